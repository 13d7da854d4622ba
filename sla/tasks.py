from celery import shared_task

from sla import services


@shared_task(name="sla.sweep", ignore_result=True)
def sweep() -> int:
    """Warnings and breaches of running SLA clocks (beat: every minute)."""
    return services.sla_sweep()


@shared_task(name="sla.send_weekly_reports", ignore_result=True)
def send_weekly_reports() -> int:
    """Managers' weekly summaries of last week (beat: hourly; each goes once per week)."""
    return services.weekly_reports_send()
