from celery import shared_task

from kb import scripts, services


@shared_task(name="kb.remind_overdue_reviews", ignore_result=True)
def remind_overdue_reviews() -> int:
    """Remind owners whose articles' review-by date passed (beat: hourly; once per date)."""
    return services.review_reminders_send()


@shared_task(name="kb.abandon_stale_script_runs", ignore_result=True)
def abandon_stale_script_runs() -> int:
    """End diagnostic script runs nobody answered for 30 minutes as abandoned (beat: every
    five minutes; idempotent)."""
    return scripts.script_runs_abandon_stale()
