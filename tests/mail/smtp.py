"""A real SMTP server for the outbound tests (aiosmtpd on 127.0.0.1), and eager Celery.

Import the fixtures into a test module::

    from tests.mail.smtp import eager_celery, smtp  # noqa: F401 (fixtures)

``smtp`` starts :class:`SmtpReceiver` on a free port, points Django's SMTP backend at it
and yields it: ``smtp.messages`` holds every mail accepted (envelope and parsed message),
``smtp.refuse(address, "550 5.1.1 No such user")`` makes it refuse a recipient (4xx or
5xx) until ``smtp.accept(address)``; ``smtp.refuse_data("552 ...")`` refuses the DATA.
"""

from __future__ import annotations

import email
import email.policy
import socket
from dataclasses import dataclass

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: email.message.EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""

    def attachments(self) -> dict[str, bytes]:
        return {
            part.get_filename(): part.get_payload(decode=True)
            for part in self.message.iter_attachments()
        }

    def all_text(self) -> str:
        """Everything a reader could see: headers and every part, decoded."""
        chunks = [f"{key}: {value}" for key, value in self.message.items()]
        for part in self.message.walk():
            if part.is_multipart():
                continue
            payload = part.get_payload(decode=True) or b""
            chunks.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
        return "\n".join(chunks)


class RecordingHandler:
    """aiosmtpd handler: records what it accepts, refuses what it is told to."""

    def __init__(self):
        self.messages: list[Received] = []
        self.refused_recipients: dict[str, str] = {}
        self.data_answer = ""
        self.attempts = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        answer = self.refused_recipients.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.attempts += 1
        if self.data_answer:
            return self.data_answer
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode()
        self.messages.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                raw=raw,
                message=email.message_from_bytes(raw, policy=email.policy.default),
            )
        )
        return "250 Message accepted for delivery"


class SmtpReceiver:
    def __init__(self):
        self.handler = RecordingHandler()
        self.host = "127.0.0.1"
        self.port = free_port()
        self.controller = Controller(self.handler, hostname=self.host, port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def to(self, address: str) -> list[Received]:
        """The mails whose envelope named ``address``."""
        address = address.lower()
        return [m for m in self.messages if address in (r.lower() for r in m.rcpt_tos)]

    def refuse(self, address: str, answer: str = "550 5.1.1 No such user here") -> None:
        self.handler.refused_recipients[address.lower()] = answer

    def accept(self, address: str) -> None:
        self.handler.refused_recipients.pop(address.lower(), None)

    def refuse_data(self, answer: str) -> None:
        self.handler.data_answer = answer


@pytest.fixture
def smtp(settings):
    """A real SMTP server that Django's SMTP backend sends to."""
    receiver = SmtpReceiver()
    receiver.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = receiver.host
    settings.EMAIL_PORT = receiver.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    yield receiver
    receiver.stop()


@pytest.fixture
def eager_celery(settings):
    """Tasks run in the caller's process when they are sent (``.delay``), errors raised.

    Celery read its configuration from the settings once already: the setting and the
    app's configuration are both switched, and restored afterwards."""
    from helpdesk.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = before
