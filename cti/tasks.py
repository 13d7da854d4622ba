from celery import shared_task

from cti import services


@shared_task(name="cti.end_stale_calls")
def end_stale_calls() -> int:
    """Periodic: end calls whose hang-up never arrived, also when no new call rings."""
    return services.calls_end_stale()
