from celery import shared_task

from sla import services


@shared_task(name="sla.sweep", ignore_result=True)
def sweep() -> int:
    """Warnings and breaches of running SLA clocks (beat: every minute)."""
    return services.sla_sweep()
