"""Secrets kept in the database (mailbox passwords, OAuth2 tokens), encrypted at rest.

The key comes from ``MAIL_SECRET_KEY`` when set, else it is derived from ``SECRET_KEY``:
rotating either makes stored secrets unreadable, and the admin then enters them again.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    material = settings.MAIL_SECRET_KEY or settings.SECRET_KEY
    key = base64.urlsafe_b64encode(hashlib.sha256(f"mail-secrets:{material}".encode()).digest())
    return Fernet(key)


def encrypt(value: str) -> str:
    if not value:
        return ""
    return _fernet().encrypt(value.encode()).decode()


def decrypt(value: str) -> str:
    """The plain secret, or "" when nothing is stored or the key changed since it was."""
    if not value:
        return ""
    try:
        return _fernet().decrypt(value.encode()).decode()
    except InvalidToken:
        return ""
