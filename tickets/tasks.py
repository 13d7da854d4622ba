from celery import shared_task

from tickets import services


@shared_task(name="tickets.close_resolved_tickets")
def close_resolved_tickets() -> int:
    """Periodic: close tickets that stayed resolved past the auto-close period."""
    return services.close_resolved_tickets()


@shared_task(name="tickets.forget_creation_keys")
def forget_creation_keys() -> int:
    """Periodic: forget the one-time keys of ticket creations older than 30 days."""
    return services.creation_keys_delete()
