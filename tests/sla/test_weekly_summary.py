"""The managers' weekly summary: subscribed from the dashboard, mailed once a week with the
dashboard's tables as an XLSX workbook, through a real SMTP receiver."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from helpdesk.roles import Role
from sla import services
from sla.models import ReportSubscription
from tests.factories import make_ticket, make_user
from tests.mail.smtp import smtp  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

WARSAW = ZoneInfo("Europe/Warsaw")
# A Wednesday; the last complete week is Monday 23 to Sunday 29 November 2026.
WEDNESDAY = datetime(2026, 12, 2, 10, 0, tzinfo=WARSAW)
NEXT_MONDAY = datetime(2026, 12, 7, 0, 30, tzinfo=WARSAW)


def subscribe(client, user, **filters):
    client.force_login(user)
    return client.post(reverse("sla:weekly_subscription"), filters)


def test_last_complete_week_is_the_monday_before_this_weeks(settings):
    assert services.last_complete_week(WEDNESDAY) == date(2026, 11, 23)
    # Sunday 23:30 in Warsaw is still the week of the 30th (UTC says Sunday 22:30).
    sunday_night = datetime(2026, 12, 6, 23, 30, tzinfo=WARSAW)
    assert services.last_complete_week(sunday_night) == date(2026, 11, 23)
    assert services.last_complete_week(NEXT_MONDAY) == date(2026, 11, 30)


def test_a_manager_subscribes_with_the_dashboards_filters(client, manager, first_line):
    answer = subscribe(client, manager, group=first_line.pk, channel="phone", period="7d")
    assert answer.status_code == 302
    subscription = ReportSubscription.objects.get(user=manager)
    assert subscription.is_active and subscription.group == first_line
    assert subscription.channel == "phone"
    page = client.get(reverse("sla:dashboard"))
    assert "summary every Monday" in page.content.decode()
    subscribe(client, manager, action="unsubscribe")
    assert not ReportSubscription.objects.get(user=manager).is_active


def test_only_managers_subscribe(client, agent, end_user):
    for user in (agent, end_user):
        assert subscribe(client, user).status_code == 403
    assert not ReportSubscription.objects.exists()


def test_bad_filters_are_refused_with_a_message(client, manager):
    answer = subscribe(client, manager, group="999999", period="7d")
    assert answer.status_code == 302
    assert not ReportSubscription.objects.exists()
    page = client.get(reverse("sla:dashboard"))
    assert "Correct the filters to subscribe" in page.content.decode()


def test_the_summary_goes_once_a_week_with_every_table(manager, first_line, smtp):  # noqa: F811
    make_ticket(group=first_line, title="=HYPERLINK(evil)")
    services.report_subscription_set(user=manager, active=True, now=WEDNESDAY)
    # Subscribed on Wednesday: the week that already ended is not sent.
    assert services.weekly_reports_send(now=WEDNESDAY) == 0
    assert smtp.messages == []

    assert services.weekly_reports_send(now=NEXT_MONDAY) == 1
    assert services.weekly_reports_send(now=NEXT_MONDAY + timedelta(hours=1)) == 0
    [mail] = smtp.to(manager.email)
    assert mail.message["Subject"] == "Weekly service summary, 30 Nov – 6 Dec 2026"
    assert "Open tickets: 1" in mail.text
    [(name, content)] = mail.attachments().items()
    assert name == "service-summary-2026-11-30.xlsx"
    workbook = load_workbook(io.BytesIO(content))
    assert len(workbook.sheetnames) >= 7
    backlog = workbook[workbook.sheetnames[0]]
    assert backlog["A2"].value == first_line.name
    assert ReportSubscription.objects.get(user=manager).last_week == date(2026, 11, 30)

    # The week after, the next one.
    assert services.weekly_reports_send(now=NEXT_MONDAY + timedelta(days=7)) == 1
    assert len(smtp.to(manager.email)) == 2


def test_the_summary_speaks_the_managers_language(manager, smtp):  # noqa: F811
    manager.person.language = "pl"
    manager.person.save(update_fields=["language"])
    services.report_subscription_set(user=manager, active=True, now=WEDNESDAY)
    services.weekly_reports_send(now=NEXT_MONDAY)
    [mail] = smtp.to(manager.email)
    assert str(mail.message["Subject"]).strip().startswith("Tygodniowe podsumowanie")
    assert "Otwarte zgłoszenia" in mail.text


def test_a_refused_send_is_retried_by_the_next_run(manager, smtp):  # noqa: F811
    services.report_subscription_set(user=manager, active=True, now=WEDNESDAY)
    smtp.refuse(manager.email, "451 4.3.0 Try again later")
    assert services.weekly_reports_send(now=NEXT_MONDAY) == 0
    subscription = ReportSubscription.objects.get(user=manager)
    assert subscription.last_week == date(2026, 11, 23)
    assert "Try again later" in subscription.last_error
    smtp.accept(manager.email)
    assert services.weekly_reports_send(now=NEXT_MONDAY + timedelta(hours=1)) == 1
    assert ReportSubscription.objects.get(user=manager).last_error == ""


def test_unsubscribed_and_deactivated_managers_get_nothing(manager, smtp):  # noqa: F811
    other = make_user(Role.MANAGER, username="manager2")
    services.report_subscription_set(user=manager, active=True, now=WEDNESDAY)
    services.report_subscription_set(user=other, active=True, now=WEDNESDAY)
    services.report_subscription_set(user=manager, active=False)
    other.is_active = False
    other.save(update_fields=["is_active"])
    assert services.weekly_reports_send(now=NEXT_MONDAY) == 0
    assert smtp.messages == []
