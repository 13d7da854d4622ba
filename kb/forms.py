"""Forms of the knowledge-base pages: validation only."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from helpdesk.models import Service
from kb.models import (
    BODY_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Announcement,
    Article,
    ArticleCategory,
    Audience,
    Language,
)

QUERY_MAX_LENGTH = 200


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), max_length=QUERY_MAX_LENGTH, required=False)
    language = forms.ChoiceField(
        label=_("Language"), choices=[("", _("Any language")), *Language.choices], required=False
    )


class ArticleForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX_LENGTH)
    summary = forms.CharField(label=_("Summary"), max_length=300, required=False)
    body = forms.CharField(
        label=_("Text (Markdown)"),
        max_length=BODY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 16}),
    )
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)
    audience = forms.ChoiceField(label=_("Audience"), choices=Audience.choices)
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=ArticleCategory.objects.all(), required=False
    )
    services = forms.ModelMultipleChoiceField(
        label=_("Services"), queryset=Service.objects.order_by("name"), required=False
    )
    review_by = forms.DateField(
        label=_("Review by"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    translation_of = forms.ModelChoiceField(
        label=_("Translation of"), queryset=Article.objects.none(), required=False
    )

    def __init__(self, *args, translations=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["translation_of"].queryset = translations or Article.objects.none()


class RevisionForm(forms.Form):
    """A published article's new text (its details stay as they are)."""

    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX_LENGTH)
    summary = forms.CharField(label=_("Summary"), max_length=300, required=False)
    body = forms.CharField(
        label=_("Text (Markdown)"),
        max_length=BODY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 16}),
    )


class RateForm(forms.Form):
    helpful = forms.TypedChoiceField(
        choices=[("yes", "yes"), ("no", "no")], coerce=lambda value: value == "yes"
    )


class DeflectionForm(forms.Form):
    q = forms.CharField(max_length=QUERY_MAX_LENGTH, required=False)


class LinkForm(forms.Form):
    article = forms.IntegerField(min_value=1, max_value=2**63 - 1)


class AnnouncementForm(forms.ModelForm):
    """The bulletin board's notice; the service checks the audience and the dates again."""

    class Meta:
        model = Announcement
        fields = [
            "title",
            "body",
            "severity",
            "audience",
            "site",
            "department",
            "services",
            "pinned",
            "valid_from",
            "valid_until",
        ]
        widgets = {
            "body": forms.Textarea(attrs={"rows": 6}),
            "valid_from": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "valid_until": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "services": forms.SelectMultiple(attrs={"size": 5}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs["class"] = "form-check-input"
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                widget.attrs["class"] = "form-select"
            else:
                widget.attrs["class"] = "form-control"
        self.fields["services"].queryset = Service.objects.order_by("name")
