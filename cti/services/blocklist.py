"""The block list: caller numbers whose calls the PBX is told to reject."""

from __future__ import annotations

from django.db import transaction

from cti.models import BlockedNumber
from cti.services.identification import caller_number_read
from helpdesk.phones import normalize_phone


@transaction.atomic
def blocked_number_add(*, number: str, reason: str = "", by=None) -> BlockedNumber:
    """Block a caller number written in any form (raises InvalidPhoneNumber otherwise)."""
    e164 = normalize_phone(number).e164
    blocked, _created = BlockedNumber.objects.get_or_create(
        e164=e164, defaults={"reason": reason, "created_by": by}
    )
    return blocked


@transaction.atomic
def blocked_number_remove(*, number: str) -> int:
    """Unblock a number written in any form; return how many entries were removed."""
    e164 = normalize_phone(number).e164
    deleted, _detail = BlockedNumber.objects.filter(e164=e164).delete()
    return deleted


def is_blocked(number: str) -> bool:
    e164 = caller_number_read(number).e164
    return bool(e164) and BlockedNumber.objects.filter(e164=e164).exists()
