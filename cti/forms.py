"""Validation of what agents send from the console card and the call log."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from cti.models import Call, CallQueue
from cti.selectors import agents_with_extensions, user_display_name


class CallTicketCreateForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    caller = forms.IntegerField(label=_("Caller"), required=False)


class CallTicketLinkForm(forms.Form):
    number = forms.CharField(label=_("Ticket number"), max_length=20)


class CallerChoiceForm(forms.Form):
    person = forms.IntegerField(label=_("Person"))


class PersonCreateForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=200)
    department = forms.CharField(label=_("Department"), max_length=120, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)


class NumberAttachForm(forms.Form):
    person = forms.CharField(label=_("Name or e-mail"), max_length=200)


class MissedHandledForm(forms.Form):
    calls = forms.TypedMultipleChoiceField(label=_("Calls"), coerce=int, choices=())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any id: the service only touches missed calls that are not handled yet.
        values = self.data.getlist("calls") if hasattr(self.data, "getlist") else []
        self.fields["calls"].choices = [(value, value) for value in values]


class AgentChoiceField(forms.ModelChoiceField):
    """Agents by the name people know them by, not by their login."""

    def label_from_instance(self, obj):
        return user_display_name(obj)


class CallLogFilterForm(forms.Form):
    """The call log's filters; every field is optional."""

    number = forms.CharField(label=_("Number or caller"), max_length=64, required=False)
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        required=False,
        choices=[("", _("any"))] + [c for c in Call.Outcome.choices if c[0]],
    )
    state = forms.ChoiceField(
        label=_("State"), required=False, choices=[("", _("any")), *Call.State.choices]
    )
    direction = forms.ChoiceField(
        label=_("Direction"), required=False, choices=[("", _("any")), *Call.Direction.choices]
    )
    queue = forms.ModelChoiceField(
        label=_("Queue"), required=False, queryset=CallQueue.objects.all(), empty_label=_("any")
    )
    agent = AgentChoiceField(
        label=_("Agent"),
        required=False,
        queryset=get_user_model().objects.none(),  # set per form: agents_with_extensions()
        empty_label=_("any"),
    )
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    unhandled = forms.BooleanField(label=_("Missed, not handled"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = agents_with_extensions()
        for field in self.fields.values():
            if isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs["class"] = "form-check-input"
            elif isinstance(field.widget, forms.Select):
                field.widget.attrs["class"] = "form-select form-select-sm"
            else:
                field.widget.attrs["class"] = "form-control form-control-sm"
