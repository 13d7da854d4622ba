from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from cti import api
from cti.models import (
    AgentExtension,
    AgentPresence,
    BlockedNumber,
    Call,
    CallEvent,
    CallQueue,
    OutboundCallerIdRule,
    Pbx,
    VoicemailBox,
)
from helpdesk.phones import InvalidPhoneNumber, normalize_phone


@admin.register(Pbx)
class PbxAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "site", "is_active", "ami_host"]
    list_filter = ["kind", "is_active", "site"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "site", "is_active", "default_queue"]}),
        (_("Authentication"), {"fields": ["token", "secret"]}),
        (
            _("Calls whose hang-up never came"),
            {"fields": ["ring_timeout_seconds", "call_max_seconds"]},
        ),
        (
            _("Asterisk manager interface (click-to-dial)"),
            {"fields": ["ami_host", "ami_port", "ami_username", "ami_secret"]},
        ),
    ]

    # The webhook keeps the PBXes it read for a few seconds: a changed token, secret or
    # active flag must count at once in this process.
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        api.pbx_cache_clear()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        api.pbx_cache_clear()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        api.pbx_cache_clear()


@admin.register(CallQueue)
class CallQueueAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "site", "support_group", "is_vip", "is_default"]
    list_filter = ["is_vip", "is_default", "site"]
    search_fields = ["name", "code"]
    filter_horizontal = ["members"]


@admin.register(AgentExtension)
class AgentExtensionAdmin(admin.ModelAdmin):
    list_display = ["extension", "user", "pbx"]
    search_fields = ["extension", "user__username", "user__last_name"]
    list_select_related = ["user", "pbx"]
    raw_id_fields = ["user"]


@admin.register(AgentPresence)
class AgentPresenceAdmin(admin.ModelAdmin):
    list_display = ["user", "state", "changed_at", "current_call"]
    list_filter = ["state"]
    list_select_related = ["user", "current_call"]
    raw_id_fields = ["user", "current_call"]


@admin.register(CallEvent)
class CallEventAdmin(admin.ModelAdmin):
    """Raw events are evidence: readable, never edited."""

    list_display = ["received_at", "source", "kind", "call_id", "pbx", "status"]
    list_filter = ["status", "source", "kind"]
    search_fields = ["call_id", "dedup_key"]
    date_hierarchy = "received_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "direction",
        "caller_number",
        "caller_person",
        "queue_name",
        "answered_by",
        "state",
        "outcome",
    ]
    list_filter = ["state", "outcome", "direction", "identification", "routing", "queue"]
    search_fields = ["call_id", "caller_number", "caller_e164", "caller_person__full_name"]
    list_select_related = ["caller_person", "answered_by"]
    raw_id_fields = [
        "caller_person",
        "candidate_people",
        "answered_by",
        "offered_to",
        "missed_handled_by",
        "tickets",
    ]
    date_hierarchy = "started_at"


@admin.register(OutboundCallerIdRule)
class OutboundCallerIdRuleAdmin(admin.ModelAdmin):
    """The caller ID an outbound call presents, by destination prefix (longest wins)."""

    list_display = ["pbx", "prefix", "caller_id", "note"]
    list_filter = ["pbx"]
    search_fields = ["prefix", "caller_id", "note"]
    list_select_related = ["pbx"]


@admin.register(VoicemailBox)
class VoicemailBoxAdmin(admin.ModelAdmin):
    """Answering numbers of a PBX's voicemail: calls they answer count as missed."""

    list_display = ["number", "name", "pbx"]
    list_filter = ["pbx"]
    search_fields = ["number", "name"]
    list_select_related = ["pbx"]


class BlockedNumberForm(forms.ModelForm):
    number = forms.CharField(label=_("Number"), max_length=40)

    class Meta:
        model = BlockedNumber
        fields = ["reason"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["number"].initial = self.instance.e164

    def clean_number(self):
        try:
            e164 = normalize_phone(self.cleaned_data["number"]).e164
        except InvalidPhoneNumber:
            raise forms.ValidationError(_("This is not a valid phone number.")) from None
        duplicate = BlockedNumber.objects.filter(e164=e164).exclude(pk=self.instance.pk)
        if duplicate.exists():
            raise forms.ValidationError(_("This number is already blocked."))
        return e164

    def save(self, commit=True):
        self.instance.e164 = self.cleaned_data["number"]
        return super().save(commit=commit)


@admin.register(BlockedNumber)
class BlockedNumberAdmin(admin.ModelAdmin):
    """Numbers typed in any form are stored normalised, as the ring path looks them up."""

    form = BlockedNumberForm
    list_display = ["e164", "reason", "created_by", "created_at"]
    search_fields = ["e164", "reason"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
