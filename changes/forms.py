"""The change pages' forms: validation only (the services decide)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from changes.models import (
    Change,
    ChangeTemplate,
    ChangeType,
    CloseCode,
    RiskLevel,
    RiskQuestion,
    State,
    Vote,
)
from helpdesk.errors import ValidationError
from helpdesk.models import Category, Service, Site, SupportGroup
from tickets.models import Impact

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError next to the fields it names (or on top of the form)."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


class DateTimeInput(forms.DateTimeInput):
    """The browser's date and time picker; the time is in the user's (the site's) zone."""

    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format=DATETIME_FORMAT, **kwargs)


def _datetime_field(label):
    return forms.DateTimeField(
        label=label,
        required=False,
        widget=DateTimeInput(),
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )


def implementer_choices():
    """Who may implement changes: the IT staff who work tickets."""
    User = get_user_model()
    return (
        User.objects.filter(is_active=True)
        .filter(
            Q(is_superuser=True)
            | Q(
                groups__permissions__codename="work_ticket",
                groups__permissions__content_type__app_label="tickets",
            )
        )
        .distinct()
        .order_by("last_name", "first_name", "username")
    )


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.get_username()


# --- list ------------------------------------------------------------------------------------


SORTS = {
    "number": ("number",),
    "title": ("title",),
    "state": ("state",),
    "risk": ("risk",),
    "planned": ("planned_start",),
    "created": ("created_at",),
    "updated": ("updated_at",),
}
DEFAULT_SORT = "-created"


class ChangeFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    state = forms.ChoiceField(
        label=_("State"), required=False, choices=[("", _("Any")), *State.choices]
    )
    type = forms.ChoiceField(
        label=_("Type"), required=False, choices=[("", _("Any")), *ChangeType.choices]
    )
    risk = forms.ChoiceField(
        label=_("Risk"), required=False, choices=[("", _("Any")), *RiskLevel.choices]
    )
    service = forms.ModelChoiceField(
        label=_("Service"),
        required=False,
        queryset=Service.objects.filter(is_active=True).order_by("name"),
        empty_label=_("Any"),
    )

    def sort(self) -> tuple[str, list[str]]:
        """(the sort key shown, the ORDER BY) for ``?sort=``; an unknown one is the default."""
        value = self.data.get("sort") or DEFAULT_SORT
        if value.lstrip("-") not in SORTS:
            value = DEFAULT_SORT
        descending = value.startswith("-")
        fields = [*SORTS[value.lstrip("-")], "id"]
        return value, [f"-{name}" if descending else name for name in fields]


# --- create and edit ---------------------------------------------------------------------------


class ChangeFieldsForm(forms.Form):
    """The editable fields of a change (the services' ``EDITABLE_FIELDS`` and relations)."""

    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    justification = forms.CharField(
        label=_("Business justification"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    category = forms.ModelChoiceField(
        label=_("Category"), required=False, queryset=Category.objects.all()
    )
    services = forms.ModelMultipleChoiceField(
        label=_("Affected services"),
        required=False,
        queryset=Service.objects.filter(is_active=True).order_by("name"),
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    sites = forms.ModelMultipleChoiceField(
        label=_("Affected sites"),
        required=False,
        queryset=Site.objects.order_by("name"),
        widget=forms.SelectMultiple(attrs={"size": 3}),
    )
    impact = forms.TypedChoiceField(
        label=_("Impact"), choices=Impact.choices, coerce=int, initial=Impact.GROUP
    )
    estimated_cost = forms.DecimalField(
        label=_("Estimated cost"), required=False, max_digits=12, decimal_places=2, min_value=0
    )
    budget_line = forms.CharField(label=_("Budget line"), required=False, max_length=120)
    planned_start = _datetime_field(_("Planned start"))
    planned_end = _datetime_field(_("Planned end"))
    implementation_plan = forms.CharField(
        label=_("Implementation plan"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    backout_plan = forms.CharField(
        label=_("Back-out plan"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    test_plan = forms.CharField(
        label=_("Test plan"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    assigned_group = forms.ModelChoiceField(
        label=_("Assigned group"),
        required=False,
        queryset=SupportGroup.objects.order_by("name"),
    )
    implementer = UserChoiceField(label=_("Implementer"), required=False, queryset=None)

    # Fields only the change team sets.
    WORKER_FIELDS = ("assigned_group", "implementer")

    def __init__(self, *args, worker: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if worker:
            self.fields["implementer"].queryset = implementer_choices()
        else:
            for name in self.WORKER_FIELDS:
                del self.fields[name]

    def clean(self):
        data = super().clean()
        if bool(data.get("planned_start")) != bool(data.get("planned_end")):
            self.add_error("planned_end", _("Give both the planned start and end, or neither."))
        return data

    def service_fields(self) -> dict:
        """The cleaned fields as the services' keyword arguments."""
        return {name: self.cleaned_data[name] for name in self.fields if name in self.cleaned_data}


class ChangeCreateForm(ChangeFieldsForm):
    type = forms.ChoiceField(
        label=_("Type"),
        choices=[
            (ChangeType.NORMAL, ChangeType.NORMAL.label),
            (ChangeType.EMERGENCY, ChangeType.EMERGENCY.label),
        ],
        initial=ChangeType.NORMAL,
        required=False,
    )
    template = forms.ModelChoiceField(
        label=_("Standard change template"),
        required=False,
        queryset=ChangeTemplate.objects.filter(is_active=True),
        widget=forms.HiddenInput,
    )
    requester_email = forms.EmailField(
        label=_("Requester's e-mail"),
        required=False,
        help_text=_("Empty: you request it."),
    )
    field_order = ["title", "type", "requester_email"]

    def __init__(self, *args, worker: bool = False, **kwargs):
        super().__init__(*args, worker=worker, **kwargs)
        if not worker:
            del self.fields["requester_email"]

    def service_fields(self) -> dict:
        fields = super().service_fields()
        fields.pop("requester_email", None)
        template = fields.pop("template", None)
        change_type = fields.pop("type", "") or ChangeType.NORMAL
        if template is not None:
            fields["template"] = template
        else:
            fields["type"] = change_type
        return fields


class ChangeEditForm(ChangeFieldsForm):
    """The edit form: what the user saw (``version``) travels with it (optimistic locking)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    @staticmethod
    def values_of(change: Change) -> dict:
        return {
            "version": change.version,
            "title": change.title,
            "description": change.description,
            "justification": change.justification,
            "category": change.category_id,
            "services": [s.pk for s in change.services.all()],
            "sites": [s.pk for s in change.sites.all()],
            "impact": change.impact,
            "estimated_cost": change.estimated_cost,
            "budget_line": change.budget_line,
            "planned_start": change.planned_start,
            "planned_end": change.planned_end,
            "implementation_plan": change.implementation_plan,
            "backout_plan": change.backout_plan,
            "test_plan": change.test_plan,
            "assigned_group": change.assigned_group_id,
            "implementer": change.implementer_id,
        }

    def service_fields(self) -> dict:
        fields = super().service_fields()
        fields.pop("version", None)
        return fields


# --- transitions -------------------------------------------------------------------------------


class VersionForm(forms.Form):
    """A transition as the user saw the change; the other fields are the service's keywords
    (``ChangeTransition.inputs``)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, change: Change | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.change = change


class ScheduleForm(VersionForm):
    planned_start = _datetime_field(_("Planned start"))
    planned_end = _datetime_field(_("Planned end"))

    def __init__(self, *args, change=None, **kwargs):
        if change is not None and not args:
            kwargs.setdefault("initial", {}).update(
                planned_start=change.planned_start, planned_end=change.planned_end
            )
        super().__init__(*args, change=change, **kwargs)


class FinishForm(VersionForm):
    code = forms.ChoiceField(label=_("How did it go?"), choices=CloseCode.choices)


class CloseForm(VersionForm):
    code = forms.ChoiceField(label=_("Outcome"), choices=CloseCode.choices)
    result = forms.CharField(
        label=_("Review result"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    problems = forms.CharField(
        label=_("What went wrong"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, change=None, **kwargs):
        if change is not None and change.close_code and not args:
            kwargs.setdefault("initial", {})["code"] = change.close_code
        super().__init__(*args, change=change, **kwargs)


class WithdrawForm(VersionForm):
    reason = forms.CharField(label=_("Reason (optional)"), required=False, max_length=1000)


# The page form of each transition with inputs (``tests/changes/test_pages.py`` checks that a
# form's fields are the registry entry's inputs); one-click transitions use VersionForm.
TRANSITION_FORMS: dict[str, type[VersionForm]] = {
    "schedule": ScheduleForm,
    "finish": FinishForm,
    "close": CloseForm,
    "withdraw": WithdrawForm,
}


def transition_form(name: str, *args, change: Change, **kwargs) -> VersionForm:
    return TRANSITION_FORMS.get(name, VersionForm)(*args, change=change, **kwargs)


# --- risk, votes, comments ---------------------------------------------------------------------


class RiskForm(forms.Form):
    """One required choice per active question; the answers' ids are the values."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, change: Change, **kwargs):
        super().__init__(*args, **kwargs)
        given = dict(change.risk_answers.values_list("question_id", "answer_id"))
        self.questions = list(
            RiskQuestion.objects.filter(is_active=True).prefetch_related("answers")
        )
        for question in self.questions:
            self.fields[f"q{question.pk}"] = forms.TypedChoiceField(
                label=question.text,
                coerce=int,
                widget=forms.RadioSelect,
                choices=[(a.pk, str(a)) for a in question.answers.all()],
                initial=given.get(question.pk),
            )

    def answers(self) -> dict[int, int]:
        return {q.pk: self.cleaned_data[f"q{q.pk}"] for q in self.questions}


class VoteForm(forms.Form):
    decision = forms.ChoiceField(choices=Vote.Decision.choices, widget=forms.HiddenInput)
    comment = forms.CharField(
        label=_("Comment (required to reject)"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class CommentForm(forms.Form):
    body = forms.CharField(
        label=_("Comment"), max_length=10000, widget=forms.Textarea(attrs={"rows": 3})
    )


class LinkForm(forms.Form):
    """A ticket or a change to link to (or unlink from) the change, by its number."""

    number = forms.CharField(
        label=_("Ticket or change number"),
        max_length=20,
        widget=forms.TextInput(attrs={"placeholder": "INC-000123 / CHG-000012"}),
    )

    def clean_number(self):
        return self.cleaned_data["number"].strip().upper()


class AttachmentForm(forms.Form):
    """One file; its size and real type are checked by the service."""

    file = forms.FileField(label=_("File"))
