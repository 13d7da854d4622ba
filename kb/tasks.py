from celery import shared_task

from kb import services


@shared_task(name="kb.remind_overdue_reviews", ignore_result=True)
def remind_overdue_reviews() -> int:
    """Remind owners whose articles' review-by date passed (beat: hourly; once per date)."""
    return services.review_reminders_send()
