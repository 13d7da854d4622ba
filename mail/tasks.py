"""Celery tasks of the e-mail channel: thin, named, ids as arguments, idempotent."""

from celery import shared_task
from django.conf import settings


@shared_task(name="mail.fetch_all_mailboxes", ignore_result=True)
def fetch_all_mailboxes() -> None:
    from mail.services import fetch

    fetch.fetch_all()


@shared_task(name="mail.fetch_mailbox", ignore_result=True)
def fetch_mailbox(mailbox_id: int) -> None:
    from mail.models import Mailbox
    from mail.services import fetch

    mailbox = Mailbox.objects.filter(pk=mailbox_id, is_active=True).first()
    if mailbox is not None:
        fetch.mailbox_fetch(mailbox=mailbox)


@shared_task(
    name="mail.process_inbound",
    ignore_result=True,
    soft_time_limit=settings.MAIL_PROCESS_SECONDS,
)
def process_inbound(inbound_id: int) -> None:
    from mail.models import InboundMessage
    from mail.services import ingest

    message = InboundMessage.objects.filter(pk=inbound_id).first()
    if message is not None:
        ingest.message_process(message=message)


@shared_task(name="mail.notify_ticket_event", ignore_result=True)
def notify_ticket_event(event: dict) -> None:
    """``event``: the JSON form of a ticket event (``notifications.event_to_dict``)."""
    from mail.services import notifications

    notifications.notifications_for_event(event)


@shared_task(name="mail.notify_sla_notices", ignore_result=True)
def notify_sla_notices(notices: list[dict]) -> None:
    """``notices``: the JSON forms of ``sla.services.SlaNotice`` of one sweep batch."""
    from mail.services import notifications

    for notice in notices:
        notifications.notifications_for_sla_notice(notice)


@shared_task(name="mail.notify_survey_invitations", ignore_result=True)
def notify_survey_invitations(invitations: list[dict]) -> None:
    """``invitations``: the JSON forms of ``surveys.services.InvitationSent`` of one run."""
    from mail.services import notifications

    for invitation in invitations:
        notifications.notifications_for_survey_invitation(invitation)


@shared_task(name="mail.notify_change_approval", ignore_result=True)
def notify_change_approval(event: dict) -> None:
    """``event``: the JSON form of ``changes.services.ApprovalRequested``."""
    from mail.services import change_approvals

    change_approvals.notifications_for_change_approval(event)


@shared_task(name="mail.notify_change_decision", ignore_result=True)
def notify_change_decision(event: dict) -> None:
    """``event``: the JSON form of ``changes.services.ChangeDecided``."""
    from mail.services import change_approvals

    change_approvals.notifications_for_change_decision(event)


@shared_task(name="mail.send_outbound", ignore_result=True)
def send_outbound(outbound_id: int) -> None:
    from mail.services import outbound

    outbound.outbound_send(outbound_id=outbound_id)


@shared_task(name="mail.send_due_outbound", ignore_result=True)
def send_due_outbound() -> None:
    from mail.services import outbound

    outbound.send_due()
