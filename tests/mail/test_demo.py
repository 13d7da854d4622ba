"""The demo's mailbox: a newcomer pipes a mail into ``make run``'s instance and a ticket
appears in the Service Desk queue."""

import io
import sys
from email.message import EmailMessage
from io import StringIO

import pytest
from django.core.management import call_command

from helpdesk.models import Person
from mail.models import InboundMessage, Mailbox
from tickets.models import Channel, Ticket

pytestmark = pytest.mark.django_db


def _pipe(monkeypatch, raw: bytes, address: str) -> str:
    monkeypatch.setattr(sys, "stdin", type("Stdin", (), {"buffer": io.BytesIO(raw)})())
    out = StringIO()
    call_command("ingest_mail", "--mailbox", address, stdout=out)
    return out.getvalue().strip()


def test_the_demo_mailbox_takes_a_piped_mail_into_the_service_desk_queue(monkeypatch):
    call_command("seed_demo", "--people", "40", "--tickets", "20", stdout=StringIO())
    call_command("seed_demo", "--people", "40", "--tickets", "20", stdout=StringIO())
    [mailbox] = Mailbox.objects.all()
    assert mailbox.address == "servicedesk@mobilnet.example"
    assert mailbox.host == "" and mailbox.default_group.code == "service-desk"

    jan = Person.objects.get(user__username="jan.kowalski")
    mail = EmailMessage()
    mail["From"] = f"Jan Kowalski <{jan.email}>"
    mail["To"] = "servicedesk@mobilnet.example"
    mail["Subject"] = "Drukarka na 3. piętrze nie drukuje"
    mail["Message-ID"] = "<demo-1@mobilnet.example>"
    mail.set_content("Od rana drukarka HP na 3. piętrze pokazuje błąd 49.")

    number = _pipe(monkeypatch, mail.as_bytes(), "servicedesk@mobilnet.example")

    ticket = Ticket.objects.get(number=number)
    assert ticket.caller == jan and ticket.channel == Channel.EMAIL
    assert ticket.group.code == "service-desk"
    assert ticket.title == "Drukarka na 3. piętrze nie drukuje"
    assert InboundMessage.objects.get().ticket == ticket
