"""Writes of the core directory."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from helpdesk.errors import ValidationError
from helpdesk.models import Person


@transaction.atomic
def person_language_set(*, person: Person, language: str) -> None:
    """Remember ``language`` as the interface language of ``person`` (used at sign-in and
    for what is sent to them); nothing is written when it is theirs already."""
    if language not in Person.Language.values:
        raise ValidationError({"language": _("This language is not offered.")})
    if person.language == language:
        return
    person.language = language
    person.save(update_fields=["language"])
