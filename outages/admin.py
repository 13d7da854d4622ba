from django.contrib import admin

from outages.models import Outage, OutageSuggestion, OutageUpdate


class OutageUpdateInline(admin.TabularInline):
    model = OutageUpdate
    extra = 0
    can_delete = False
    readonly_fields = [field.name for field in OutageUpdate._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Outage)
class OutageAdmin(admin.ModelAdmin):
    """Read-only: outages are declared, changed and ended on their pages (the services keep
    the history, the tickets and the announcements in step)."""

    list_display = ["title", "state", "started_at", "expected_end", "parent_ticket"]
    list_filter = ["state"]
    search_fields = ["title"]
    inlines = [OutageUpdateInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(OutageSuggestion)
class OutageSuggestionAdmin(admin.ModelAdmin):
    list_display = ["service", "ticket_count", "status", "updated_at"]
    list_filter = ["status"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
