from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from changes.models import (
    ApprovalRequest,
    ApprovalRule,
    ApprovalStep,
    CalendarFeedToken,
    Change,
    ChangeAttachment,
    ChangeComment,
    ChangeTemplate,
    ChangeTimelineEntry,
    FreezePeriod,
    RiskAnswer,
    RiskQuestion,
    RiskThreshold,
    Vote,
)

# --- what administrators configure ---------------------------------------------------------


@admin.register(ChangeTemplate)
class ChangeTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "risk", "assigned_group", "is_active"]
    list_filter = ["is_active", "risk"]
    search_fields = ["name"]
    filter_horizontal = ["services"]


class RiskAnswerInline(admin.TabularInline):
    model = RiskAnswer
    extra = 2
    fields = ["order", "text", "points"]


@admin.register(RiskQuestion)
class RiskQuestionAdmin(admin.ModelAdmin):
    list_display = ["text", "order", "is_active"]
    list_editable = ["order", "is_active"]
    inlines = [RiskAnswerInline]


@admin.register(RiskThreshold)
class RiskThresholdAdmin(admin.ModelAdmin):
    list_display = ["level", "min_score"]


class ApprovalStepInline(admin.StackedInline):
    model = ApprovalStep
    extra = 1
    fields = [
        ("order", "name"),
        ("change_board", "service_owners"),
        "groups",
        "users",
        ("quorum", "quorum_value"),
        "min_cost",
    ]
    filter_horizontal = ["groups", "users"]


@admin.register(ApprovalRule)
class ApprovalRuleAdmin(admin.ModelAdmin):
    """Per change type and risk: the ordered steps and who approves each."""

    list_display = ["name", "change_type", "risk", "is_active"]
    list_filter = ["change_type", "risk", "is_active"]
    inlines = [ApprovalStepInline]


@admin.register(FreezePeriod)
class FreezePeriodAdmin(admin.ModelAdmin):
    list_display = ["name", "start", "end", "is_global", "allows_emergency"]
    list_filter = ["is_global", "allows_emergency"]
    filter_horizontal = ["services", "sites"]
    date_hierarchy = "start"


@admin.register(CalendarFeedToken)
class CalendarFeedTokenAdmin(admin.ModelAdmin):
    """Feed tokens are made by their owners; an administrator may only revoke them."""

    list_display = ["user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    readonly_fields = ["user", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Revoke the selected calendar feeds"))
    def revoke(self, request, queryset):
        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


# --- changes: read-only, they change through the services so the timeline stays complete ----


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ApprovalRequestInline(_ReadOnlyInline):
    model = ApprovalRequest
    fields = ["order", "name", "quorum", "quorum_value", "state", "opened_at", "completed_at"]
    readonly_fields = fields


class CommentInline(_ReadOnlyInline):
    model = ChangeComment
    fields = ["created_at", "author", "body"]
    readonly_fields = fields


class AttachmentInline(_ReadOnlyInline):
    model = ChangeAttachment
    fields = ["created_at", "uploaded_by", "original_name", "content_type", "size", "sha256"]
    readonly_fields = fields


class TimelineInline(_ReadOnlyInline):
    model = ChangeTimelineEntry
    fields = ["created_at", "actor", "kind", "field", "old_value", "new_value", "note"]
    readonly_fields = fields


@admin.register(Change)
class ChangeAdmin(admin.ModelAdmin):
    list_display = ["number", "title", "type", "state", "risk", "planned_start", "requester"]
    list_filter = ["state", "type", "risk"]
    search_fields = ["number", "title", "requester__full_name"]
    list_select_related = ["requester"]
    date_hierarchy = "created_at"
    inlines = [ApprovalRequestInline, CommentInline, AttachmentInline, TimelineInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ["request", "voter", "decision", "updated_at"]
    list_filter = ["decision"]
    list_select_related = ["request", "voter"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
