from django.contrib import admin

from tickets import services
from tickets.models import Comment, PriorityRule, Ticket, TimelineEntry


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
