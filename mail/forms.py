"""Forms of the e-mail channel's pages: validation only."""

from django import forms
from django.utils.translation import gettext_lazy as _

from mail.models import OutboundMessage

Kind = OutboundMessage.Kind

# "Send me mail when ..." on the notification settings page.
KIND_LABELS = {
    Kind.ACKNOWLEDGEMENT: _("my new ticket is registered"),
    Kind.AGENT_REPLY: _("the help desk answers on my ticket"),
    Kind.WAITING_FOR_YOU: _("the help desk waits for my answer"),
    Kind.RESOLVED: _("my ticket is resolved"),
    Kind.CLOSED: _("my ticket is closed"),
    Kind.ASSIGNED: _("a ticket is assigned to me"),
    Kind.GROUP_NEW_TICKET: _("a new ticket arrives in my group's queue"),
    Kind.SURVEY_INVITATION: _("the help desk asks me to rate my closed ticket"),
}


class NotificationSettingsForm(forms.Form):
    """One checkbox per kind of mail the user may get; ticked: send it."""

    def __init__(self, *args, kinds, muted=frozenset(), **kwargs):
        super().__init__(*args, **kwargs)
        for kind in kinds:
            self.fields[kind] = forms.BooleanField(
                label=KIND_LABELS.get(kind, Kind(kind).label),
                required=False,
                initial=kind not in muted,
            )

    def muted_kinds(self) -> set[str]:
        return {kind for kind, wanted in self.cleaned_data.items() if not wanted}
