from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tickets import services
from tickets.models import CannedReply, Comment, PriorityRule, Tag, Ticket, TimelineEntry


@admin.register(PriorityRule)
class PriorityRuleAdmin(admin.ModelAdmin):
    """The matrix's cells, edited through ``priority_rule_set`` (validation, cache)."""

    list_display = ["impact", "urgency", "priority"]
    list_editable = ["priority"]
    list_display_links = None

    def save_model(self, request, obj, form, change):
        saved = services.priority_rule_set(
            impact=obj.impact, urgency=obj.urgency, priority=obj.priority
        )
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        services.priority_rule_delete(impact=obj.impact, urgency=obj.urgency)

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            self.delete_model(request, rule)


class CommentInline(admin.TabularInline):
    model = Comment
    extra = 0
    fields = ["created_at", "author", "is_internal", "body"]
    readonly_fields = fields
    can_delete = False


class TimelineInline(admin.TabularInline):
    model = TimelineEntry
    extra = 0
    fields = ["created_at", "actor", "kind", "field", "old_value", "new_value", "note"]
    readonly_fields = fields
    can_delete = False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """Read-only: tickets change through the console and API so the timeline stays complete."""

    list_display = ["number", "title", "status", "priority", "group", "assignee", "created_at"]
    list_filter = ["status", "type", "channel", "priority", "group"]
    search_fields = ["number", "title", "caller__full_name"]
    list_select_related = ["group", "assignee"]
    date_hierarchy = "created_at"
    inlines = [CommentInline, TimelineInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    """Text blocks agents insert in replies and notes; placeholders are filled per ticket."""

    list_display = ["title", "language", "group", "is_active", "updated_at"]
    list_filter = ["is_active", "language", "group"]
    search_fields = ["title", "body"]
    list_select_related = ["group"]
    fields = ["title", "language", "group", "is_active", "body"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.base_fields["body"].help_text = _(
            "Placeholders: {caller_name}, {caller_first_name}, {ticket_number}, "
            "{ticket_title}, {agent_name}, {group_name}. Anything else in braces stays as typed."
        )
        form.base_fields["group"].help_text = _("Empty: offered on the tickets of every group.")
        return form

    def save_model(self, request, obj, form, change):
        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    """Tags agents made on tickets: rename a misspelt one, or delete one nobody needs (it
    leaves every ticket; the tickets' timelines keep what they said). Agents create tags by
    tagging a ticket."""

    list_display = ["name", "ticket_count", "created_at"]
    search_fields = ["name"]
    fields = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(ticket_count=Count("tickets"))

    @admin.display(description=_("tickets"), ordering="ticket_count")
    def ticket_count(self, tag):
        return tag.ticket_count

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.base_fields["name"].help_text = _(
            "Letters, digits, “-” and “_”; stored in lower case."
        )

        def clean_name(form_self):
            try:
                [name] = services.tag_names_normalized([form_self.cleaned_data["name"]])
            except ValueError:
                raise ValidationError(_("Give one tag.")) from None
            except ValidationError as error:
                raise ValidationError(error.message_dict["tags"]) from None
            return name

        form.clean_name = clean_name
        return form
