from django.contrib import admin
from django.db import models
from django.utils.translation import gettext_lazy as _

from surveys.models import Answer, Question, SurveyInvitation, SurveyResponse, SurveySettings


@admin.register(SurveySettings)
class SurveySettingsAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "is_active",
        "delay_hours",
        "sample_percent",
        "quiet_days",
        "link_valid_days",
        "low_rating_threshold",
    ]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request):
        # One row: the admin edits it (created with the defaults on first use).
        return super().has_add_permission(request) and not SurveySettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ["text", "text_pl", "kind", "is_required", "order", "is_active"]
    list_editable = ["order", "is_active"]
    list_filter = ["kind", "is_active"]


@admin.register(SurveyInvitation)
class SurveyInvitationAdmin(admin.ModelAdmin):
    list_display = ["ticket", "person", "status", "skip_reason", "send_after", "sent_at"]
    list_filter = ["status", "skip_reason"]
    search_fields = ["ticket__number", "person__full_name", "person__email"]
    list_select_related = ["ticket", "person"]
    raw_id_fields = ["ticket", "person"]
    readonly_fields = ["closed_at", "sent_at", "expires_at", "created_at"]


class AnswerInline(admin.TabularInline):
    model = Answer
    extra = 0
    fields = ["question", "rating", "yes_no", "text"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SurveyResponse)
class SurveyResponseAdmin(admin.ModelAdmin):
    list_display = ["invitation", "score", "lowest_rating", "submitted_at", "follow_up_at"]
    list_filter = [("follow_up_at", admin.EmptyFieldListFilter)]
    list_select_related = ["invitation"]
    raw_id_fields = ["invitation", "follow_up_by"]
    readonly_fields = ["score", "lowest_rating", "submitted_at", "updated_at"]
    inlines = [AnswerInline]
    search_fields = ["invitation__ticket__number"]

    @admin.display(description=_("ticket"))
    def ticket(self, obj):
        return obj.invitation.ticket
