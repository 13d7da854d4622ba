from django.contrib import admin
from django.core.cache import cache

from tickets.models import Comment, PriorityRule, Ticket, TimelineEntry
from tickets.services import PRIORITY_CACHE_KEY


@admin.register(PriorityRule)
class PriorityRuleAdmin(admin.ModelAdmin):
    list_display = ["impact", "urgency", "priority"]
    list_editable = ["priority"]
    list_display_links = None

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        cache.delete(PRIORITY_CACHE_KEY)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        cache.delete(PRIORITY_CACHE_KEY)

    def changelist_view(self, request, extra_context=None):
        # list_editable saves many rows at once; drop the cached matrix after any of them.
        response = super().changelist_view(request, extra_context)
        if request.method == "POST":
            cache.delete(PRIORITY_CACHE_KEY)
        return response


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
