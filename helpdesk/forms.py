"""Forms of the core pages."""

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator
from django.utils.translation import gettext_lazy as _


class LanguageForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    next = forms.CharField(required=False)


class ApiTokenForm(forms.Form):
    """A new API token: what it is for, and for how many days it works."""

    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the token is for, e.g. the script or computer that uses it."),
    )
    lifetime_days = forms.IntegerField(label=_("Lifetime in days"), min_value=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # From settings at each use, not at import (tests and deployments change them).
        field = self.fields["lifetime_days"]
        field.max_value = settings.API_TOKEN_MAX_DAYS
        field.validators.append(MaxValueValidator(settings.API_TOKEN_MAX_DAYS))
        field.widget.attrs["max"] = settings.API_TOKEN_MAX_DAYS
        field.initial = settings.API_TOKEN_DEFAULT_DAYS
        field.help_text = _("From 1 to %(max)d days.") % {"max": settings.API_TOKEN_MAX_DAYS}
