"""Which ticket events become which mails (the listener subscribed in ``MailConfig.ready``)."""

from tickets import events


def on_ticket_event(event: events.TicketEvent) -> None:
    """Hand the event to a Celery task that writes and sends its notifications."""
    # Filled in by the outbound part of the channel.
    return None
