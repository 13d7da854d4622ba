from celery import shared_task

from cti import services


@shared_task(name="cti.end_stale_calls")
def end_stale_calls() -> int:
    """Periodic: end calls whose hang-up never arrived, also when no new call rings."""
    return services.calls_end_stale()


@shared_task(name="cti.end_after_call_work")
def end_after_call_work() -> int:
    """Periodic: agents whose after-call work has lasted CTI_AFTER_CALL_WORK_SECONDS become
    available (their consoles also ask for it when the time is up)."""
    return len(services.after_call_work_end_due())
