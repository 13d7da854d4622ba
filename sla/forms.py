"""The dashboard's filters."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from helpdesk.models import Service, Site, SupportGroup
from sla.reports import ReportFilter
from tickets.models import Channel

MAX_PERIOD_DAYS = 366


class DashboardFilterForm(forms.Form):
    """Period and narrowing; an invalid value is a form error, never a failed page."""

    PERIODS = [
        ("today", _("Today")),
        ("7d", _("Last 7 days")),
        ("30d", _("Last 30 days")),
        ("custom", _("From … to …")),
    ]

    period = forms.ChoiceField(label=_("Period"), choices=PERIODS, required=False, initial="7d")
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    site = forms.ModelChoiceField(
        label=_("Site"), queryset=Site.objects.all(), required=False, empty_label=_("Any site")
    )
    group = forms.ModelChoiceField(
        label=_("Group"),
        queryset=SupportGroup.objects.all(),
        required=False,
        empty_label=_("Any group"),
    )
    service = forms.ModelChoiceField(
        label=_("Service"),
        queryset=Service.objects.all(),
        required=False,
        empty_label=_("Any service"),
    )
    channel = forms.ChoiceField(
        label=_("Channel"), choices=[("", _("Any channel")), *Channel.choices], required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = "form-select form-select-sm" if isinstance(field.widget, forms.Select) else None
            field.widget.attrs["class"] = css or "form-control form-control-sm"

    def clean(self):
        data = super().clean()
        period = data.get("period") or "7d"
        data["period"] = period
        if period == "custom":
            first, last = data.get("date_from"), data.get("date_to")
            if "date_from" in self.errors or "date_to" in self.errors:
                return data
            if first is None or last is None:
                raise ValidationError(_("A custom period needs both a start and an end date."))
            if last < first:
                raise ValidationError(_("The end date is before the start date."))
            if (last - first).days >= MAX_PERIOD_DAYS:
                raise ValidationError(
                    _("A period is at most %(days)s days long.") % {"days": MAX_PERIOD_DAYS}
                )
        return data

    def report_filter(self) -> ReportFilter:
        """The figures' filter of a valid form (the default period when the form is unbound)."""
        data = self.cleaned_data if self.is_bound else {}
        today = timezone.localdate()
        period = data.get("period") or "7d"
        if period == "custom":
            first, last = data["date_from"], data["date_to"]
        else:
            days = {"today": 1, "7d": 7, "30d": 30}[period]
            first, last = today - timedelta(days=days - 1), today
        return ReportFilter.for_days(
            first,
            last,
            site_id=data["site"].pk if data.get("site") else None,
            group_id=data["group"].pk if data.get("group") else None,
            service_id=data["service"].pk if data.get("service") else None,
            channel=data.get("channel") or "",
        )
