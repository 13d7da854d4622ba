from celery import shared_task

from sla import services, summary


@shared_task(name="sla.sweep", ignore_result=True)
def sweep() -> int:
    """Warnings and breaches of running SLA clocks (beat: every minute)."""
    return services.sla_sweep()


@shared_task(name="sla.send_weekly_reports", ignore_result=True)
def send_weekly_reports() -> int:
    """Managers' weekly summaries of last week (beat: hourly; each goes once per week)."""
    return services.weekly_reports_send()


@shared_task(name="sla.refresh_dashboard_summary", ignore_result=True, expires=240)
def refresh_dashboard_summary(days: int = 2) -> int:
    """Rebuild the dashboard's summary of the last ``days`` days, today included (beat:
    today and yesterday every five minutes, the last 31 days nightly)."""
    rows = summary.dashboard_summary_refresh_recent(days=days)
    summary.warm_medians()
    return rows


@shared_task(name="sla.refresh_dashboard_snapshot", ignore_result=True, expires=50)
def refresh_dashboard_snapshot() -> int:
    """Count the dashboard's backlog and breaches now (beat: every minute)."""
    return summary.dashboard_snapshot_refresh()
