"""Forms of the core pages."""

import hashlib
import logging

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.core.cache import cache
from django.core.validators import MaxValueValidator
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger("helpdesk.accounts")


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


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's reset form (which logs a mail server's refusal and shows the same page
    whether or not the address is known), with at most ``PASSWORD_RESET_PER_HOUR`` mails
    per address in an hour, so nobody floods a colleague's mailbox."""

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        key = "password-reset:" + hashlib.sha256(to_email.lower().encode()).hexdigest()
        cache.add(key, 0, timeout=3600)
        if cache.incr(key) > settings.PASSWORD_RESET_PER_HOUR:
            logger.warning("password reset for %s held back: over the hourly limit", to_email)
            return
        super().send_mail(
            subject_template_name,
            email_template_name,
            context,
            from_email,
            to_email,
            html_email_template_name,
        )
