"""Forms of the outage pages: validation only, the services do the writing."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from helpdesk.models import Service, Site

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format=DATETIME_LOCAL, **kwargs)


def _datetime_field(label, *, required: bool) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=required,
        widget=DateTimeLocalInput(),
        input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )


class OutageDeclareForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    services = forms.ModelMultipleChoiceField(
        label=_("Affected services"),
        queryset=Service.objects.filter(is_active=True).order_by("name"),
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    sites = forms.ModelMultipleChoiceField(
        label=_("Affected sites (none: every site)"),
        queryset=Site.objects.order_by("name"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    description = forms.CharField(
        label=_("Description for users (English)"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    description_pl = forms.CharField(
        label=_("Description for users (Polish)"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    started_at = _datetime_field(_("Started"), required=False)
    expected_end = _datetime_field(_("Expected end"), required=False)
    tickets = forms.CharField(required=False, widget=forms.HiddenInput, max_length=2000)


class OutageUpdateForm(forms.Form):
    expected_end = _datetime_field(_("Expected end"), required=False)
    description = forms.CharField(
        label=_("Description for users (English)"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    description_pl = forms.CharField(
        label=_("Description for users (Polish)"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    note = forms.CharField(label=_("Note for the history"), max_length=500, required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class OutageResolveForm(forms.Form):
    notes = forms.CharField(
        label=_("Resolution notes (every affected caller reads them)"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class OutageCancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


def ticket_ids(raw: list[str] | str, *, limit: int) -> list[int]:
    """Ticket ids from the queue's selection (``<id>:<version>`` or ``<id>``), or from a
    comma-separated list; bounded by ``limit``."""
    items = raw if isinstance(raw, list) else str(raw or "").split(",")
    ids = []
    for item in items[: limit + 1]:
        pk = str(item).strip().partition(":")[0]
        if pk.isdigit() and len(pk) < 19:
            ids.append(int(pk))
    if len(ids) > limit:
        raise forms.ValidationError(
            _("Select at most %(limit)s tickets at a time.") % {"limit": limit}
        )
    return list(dict.fromkeys(ids))


class LinkNumbersForm(forms.Form):
    numbers = forms.CharField(
        label=_("Ticket numbers (separated by spaces or commas)"), max_length=2000
    )
