from celery import shared_task

from surveys import services


@shared_task(name="surveys.send_due_invitations", ignore_result=True)
def send_due_invitations() -> int:
    """Survey invitations whose delay has passed (beat: every five minutes; each once)."""
    return services.invitations_send_due()
