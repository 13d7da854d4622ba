"""The survey form (one field per active question) and the managers' forms: validation only;
the service decides again (the low-rating comment, the lock)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from helpdesk.models import Service, SupportGroup
from surveys.models import (
    COMMENT_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    TEXT_ANSWER_MAX_LENGTH,
    Question,
    QuestionKind,
    SurveyResponse,
)
from surveys.selectors import ResultsFilter

RATINGS = [(str(value), str(value)) for value in range(1, 6)]
MAX_PERIOD_DAYS = 366


class SurveyForm(forms.Form):
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": COMMENT_MAX_LENGTH}),
        help_text=_("Required when you give a rating of %(low)s or less."),
    )

    def __init__(self, *args, questions: list[Question], low: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = questions
        self.fields["comment"].help_text = self.fields["comment"].help_text % {"low": low}
        fields = {}
        for question in questions:
            label = question.text_localized
            if question.kind == QuestionKind.RATING:
                field = forms.TypedChoiceField(
                    label=label,
                    choices=RATINGS,
                    coerce=int,
                    widget=forms.RadioSelect,
                    required=False,
                )
            elif question.kind == QuestionKind.YES_NO:
                field = forms.TypedChoiceField(
                    label=label,
                    choices=[("yes", _("Yes")), ("no", _("No"))],
                    coerce=lambda value: value == "yes",
                    widget=forms.RadioSelect,
                    required=False,
                )
            else:
                field = forms.CharField(
                    label=label,
                    max_length=TEXT_ANSWER_MAX_LENGTH,
                    widget=forms.Textarea(attrs={"rows": 3, "maxlength": TEXT_ANSWER_MAX_LENGTH}),
                    required=False,
                )
            field.question = question
            fields[f"q{question.pk}"] = field
        # The questions first, the comment last.
        self.fields = {**fields, "comment": self.fields["comment"]}

    def question_fields(self):
        return [self[name] for name in self.fields if name != "comment"]

    def answers(self) -> dict[int, object]:
        """Question id -> value for the service (None when left empty)."""
        result = {}
        for question in self.questions:
            value = self.cleaned_data.get(f"q{question.pk}")
            result[question.pk] = None if value == "" else value
        return result

    @staticmethod
    def initial_from(response: SurveyResponse) -> dict:
        initial = {"comment": response.comment}
        for answer in response.answers.all():
            if answer.rating is not None:
                value = str(answer.rating)
            elif answer.yes_no is not None:
                value = "yes" if answer.yes_no else "no"
            else:
                value = answer.text
            initial[f"q{answer.question_id}"] = value
        return initial


class ResultsFilterForm(forms.Form):
    """Period and narrowing of the results; a wrong value is a message, never an error."""

    PERIODS = [
        ("30d", _("Last 30 days")),
        ("7d", _("Last 7 days")),
        ("90d", _("Last 90 days")),
        ("custom", _("From … to …")),
    ]

    period = forms.ChoiceField(label=_("Period"), choices=PERIODS, required=False)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    group = forms.ModelChoiceField(
        label=_("Group"),
        queryset=SupportGroup.objects.order_by("name"),
        required=False,
        empty_label=_("Any group"),
    )
    agent = forms.TypedChoiceField(label=_("Agent"), required=False, coerce=int, empty_value=None)
    service = forms.ModelChoiceField(
        label=_("Service"),
        queryset=Service.objects.order_by("name"),
        required=False,
        empty_label=_("Any service"),
    )

    def __init__(self, *args, agents=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].choices = [("", _("Any agent")), *agents]
        for field in self.fields.values():
            css = "form-select form-select-sm" if isinstance(field.widget, forms.Select) else None
            field.widget.attrs["class"] = css or "form-control form-control-sm"

    def clean(self):
        data = super().clean()
        period = data.get("period") or "30d"
        data["period"] = period
        if period == "custom":
            if "date_from" in self.errors or "date_to" in self.errors:
                return data
            first, last = data.get("date_from"), data.get("date_to")
            if first is None or last is None:
                raise ValidationError(_("A custom period needs both a start and an end date."))
            if last < first:
                raise ValidationError(_("The end date is before the start date."))
            if (last - first).days >= MAX_PERIOD_DAYS:
                raise ValidationError(
                    _("A period is at most %(days)s days long.") % {"days": MAX_PERIOD_DAYS}
                )
        return data

    def results_filter(self) -> ResultsFilter:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        today = timezone.localdate()
        period = data.get("period") or "30d"
        if period == "custom":
            first, last = data["date_from"], data["date_to"]
        else:
            days = {"7d": 7, "30d": 30, "90d": 90}[period]
            first, last = today - timedelta(days=days - 1), today
        zone = timezone.get_current_timezone()
        return ResultsFilter(
            start=datetime.combine(first, time.min, tzinfo=zone),
            end=datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone),
            group_id=data["group"].pk if data.get("group") else None,
            service_id=data["service"].pk if data.get("service") else None,
            agent_id=data.get("agent") or None,
        )


class FollowUpForm(forms.Form):
    note = forms.CharField(
        label=_("What was done"),
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": NOTE_MAX_LENGTH}),
    )
