"""Mails for the inbound tests, built with the standard library as a mail client would."""

from __future__ import annotations

import email.policy
import email.utils
import itertools
from email.message import EmailMessage

HELPDESK = "servicedesk@helpdesk.test"
_numbers = itertools.count(1)


def make_id(domain: str = "client.example") -> str:
    """A fresh Message-ID in angle brackets, as a mail client writes it."""
    return f"<mail-{next(_numbers)}@{domain}>"


def mail(
    subject: str = "Printer on floor 3 does not print",
    *,
    sender: str = "Alice Example <alice@example.com>",
    to: str = HELPDESK,
    cc: str = "",
    body: str = "The paper jam light is on since this morning.",
    message_id: str | None = "",
    in_reply_to: str = "",
    references: str = "",
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] = (),
) -> bytes:
    """A mail as bytes. ``message_id`` "" makes a fresh one, None leaves the header out;
    ``attachments`` are (file name, content type, data)."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(localtime=True)
    if message_id is not None:
        message["Message-ID"] = message_id or make_id()
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    for filename, content_type, data in attachments:
        maintype, subtype = content_type.split("/", 1)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


def delivery_status_notification(
    *,
    original_message_id: str,
    recipient: str,
    status: str = "5.1.1",
    action: str = "failed",
    original_subject: str = "[INC-000001] We received your request",
) -> bytes:
    """An RFC 3464 delivery status notification (multipart/report) as Postfix writes it,
    returning the headers of the mail that could not be delivered."""
    permanent = action == "failed"
    subject = (
        "Undelivered Mail Returned to Sender" if permanent else "Delayed Mail (still being retried)"
    )
    code = "550" if permanent else "451"
    text = f"""From: MAILER-DAEMON@mx.example.com (Mail Delivery System)
To: {HELPDESK}
Subject: {subject}
Date: {email.utils.formatdate(localtime=True)}
Message-ID: {make_id("mx.example.com")}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.com.

Your message could not be delivered to {recipient}.

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Remote-MTA: dns; mail.example.org
Diagnostic-Code: smtp; {code} {status} <{recipient}>: Recipient address rejected

--BOUNDARY
Content-Type: text/rfc822-headers
Content-Description: Undelivered Message Headers

From: Service Desk <{HELPDESK}>
To: {recipient}
Subject: {original_subject}
Message-ID: {original_message_id}
Auto-Submitted: auto-generated

--BOUNDARY--
"""
    return text.replace("\n", "\r\n").encode()
