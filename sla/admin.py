from django.contrib import admin

from sla import services
from sla.models import (
    BusinessCalendar,
    CalendarDay,
    SlaAlert,
    SlaClock,
    SlaPolicy,
    SlaThreshold,
    WorkingHours,
)


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "always_open", "holiday_country"]
    inlines = [WorkingHoursInline, CalendarDayInline]
    exclude = ["updated_at"]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # After the hours and exceptions are saved: new schedule, running clocks moved.
        services.calendar_touch(calendar=form.instance)


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "priority",
        "service",
        "ticket_type",
        "vip_only",
        "calendar",
        "first_response",
        "next_response",
        "resolution",
        "is_active",
    ]
    list_filter = ["priority", "is_active", "calendar"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change:
            services.policy_saved(policy=obj)


@admin.register(SlaThreshold)
class SlaThresholdAdmin(admin.ModelAdmin):
    list_display = ["percent", "notify", "raise_priority", "escalate", "is_active"]


class SlaAlertInline(admin.TabularInline):
    model = SlaAlert
    extra = 0
    can_delete = False
    readonly_fields = ["percent", "at", "actions"]


@admin.register(SlaClock)
class SlaClockAdmin(admin.ModelAdmin):
    """The SLA history of tickets: read-only (clocks are written by ticket events)."""

    list_display = ["ticket", "target", "policy", "started_at", "due_at", "outcome", "margin"]
    list_filter = ["target", "outcome"]
    search_fields = ["ticket__number"]
    list_select_related = ["ticket", "policy"]
    inlines = [SlaAlertInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
