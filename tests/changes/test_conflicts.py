"""Conflicts between booked changes and freeze periods, at the edges of their windows."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from changes import selectors, services
from changes.models import Change, ChangeType, FreezePeriod, State
from helpdesk.errors import ValidationError
from tests.changes.conftest import make_change
from tests.factories import ServiceFactory, SiteFactory

WARSAW = ZoneInfo("Europe/Warsaw")
NEW_YORK = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")


def _booked(requester, by, start, end, state=State.SCHEDULED, **fields):
    change = make_change(requester=requester, by=by, planned_start=start, planned_end=end, **fields)
    Change.objects.filter(pk=change.pk).update(state=state)
    return Change.objects.get(pk=change.pk)


@pytest.fixture
def booked(end_user, engineer, service):
    """A scheduled change on the e-mail service, 10:00-12:00 Warsaw time on 2027-03-10."""
    return _booked(
        end_user.person,
        engineer,
        datetime(2027, 3, 10, 10, tzinfo=WARSAW),
        datetime(2027, 3, 10, 12, tzinfo=WARSAW),
        services=[service],
    )


def _conflicts(end_user, engineer, start, end, **fields):
    fields.setdefault("services", [])
    change = make_change(
        requester=end_user.person, by=engineer, planned_start=start, planned_end=end, **fields
    )
    return selectors.change_conflicts(change)


@pytest.mark.django_db
def test_overlapping_window_on_the_same_service_conflicts(booked, end_user, engineer, service):
    found = _conflicts(
        end_user,
        engineer,
        datetime(2027, 3, 10, 11, 59, tzinfo=WARSAW),
        datetime(2027, 3, 10, 13, tzinfo=WARSAW),
        services=[service],
    )
    assert found.changes == [booked] and bool(found)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "end"),
    [((12, 0), (13, 0)), ((9, 0), (10, 0))],
    ids=["starts-when-it-ends", "ends-when-it-starts"],
)
def test_touching_windows_do_not_conflict(booked, end_user, engineer, service, start, end):
    found = _conflicts(
        end_user,
        engineer,
        datetime(2027, 3, 10, *start, tzinfo=WARSAW),
        datetime(2027, 3, 10, *end, tzinfo=WARSAW),
        services=[service],
    )
    assert found.changes == [] and not found


@pytest.mark.django_db
def test_same_instant_in_another_time_zone(booked, end_user, engineer, service):
    # 10:00 Warsaw (UTC+1 in March before the switch) is 04:00 in New York (UTC-5 until
    # 14 March 2027): 05:00-06:00 New York is 11:00-12:00 Warsaw, inside the booked window.
    inside = _conflicts(
        end_user,
        engineer,
        datetime(2027, 3, 10, 5, tzinfo=NEW_YORK),
        datetime(2027, 3, 10, 6, tzinfo=NEW_YORK),
        services=[service],
    )
    assert inside.changes == [booked]
    # 06:00-07:00 New York is 12:00-13:00 Warsaw: it only touches.
    touching = _conflicts(
        end_user,
        engineer,
        datetime(2027, 3, 10, 6, tzinfo=NEW_YORK),
        datetime(2027, 3, 10, 7, tzinfo=NEW_YORK),
        services=[service],
    )
    assert touching.changes == []


@pytest.mark.django_db
def test_across_the_dst_switch(end_user, engineer, service):
    # Warsaw springs forward on 28 March 2027 at 02:00 -> 03:00. A change 01:00-03:00 local
    # lasts one hour (00:00-01:00 UTC); one from 03:00 local (01:00 UTC) only touches it,
    # though a naive wall-clock reading would see them overlap for an hour.
    night = _booked(
        end_user.person,
        engineer,
        datetime(2027, 3, 28, 1, tzinfo=WARSAW),
        datetime(2027, 3, 28, 3, tzinfo=WARSAW),
        services=[service],
    )
    assert night.planned_end - night.planned_start == timedelta(hours=1)
    after = _conflicts(
        end_user,
        engineer,
        datetime(2027, 3, 28, 1, tzinfo=UTC),
        datetime(2027, 3, 28, 2, tzinfo=UTC),
        services=[service],
    )
    assert after.changes == []
    overlapping = _conflicts(
        end_user,
        engineer,
        datetime(2027, 3, 28, 0, 30, tzinfo=UTC),
        datetime(2027, 3, 28, 4, tzinfo=WARSAW),
        services=[service],
    )
    assert overlapping.changes == [night]
    # Autumn: 31 October 2027, 03:00 -> 02:00. 02:30 happens twice; fold=1 is the second.
    first = datetime(2027, 10, 31, 2, 30, tzinfo=WARSAW)
    second = datetime(2027, 10, 31, 2, 30, fold=1, tzinfo=WARSAW)
    # Python adds a timedelta to an aware datetime on the wall clock: 02:30 + 30 min would be
    # 03:00 CET, an hour and a half later. Durations are added in UTC.
    half_an_hour_later = (first.astimezone(UTC) + timedelta(minutes=30)).astimezone(WARSAW)
    assert half_an_hour_later.hour == 2 and half_an_hour_later.fold == 1
    autumn = _booked(end_user.person, engineer, first, half_an_hour_later, services=[service])
    later = _conflicts(
        end_user, engineer, second, datetime(2027, 10, 31, 4, tzinfo=WARSAW), services=[service]
    )
    assert later.changes == []
    assert autumn in _conflicts(end_user, engineer, first, second, services=[service]).changes


@pytest.mark.django_db
def test_only_booked_changes_on_a_shared_service_or_site_conflict(end_user, engineer, service):
    start = datetime(2027, 5, 4, 9, tzinfo=WARSAW)
    end = start + timedelta(hours=3)
    warsaw, other_site = SiteFactory(code="waw1"), SiteFactory(code="krk1")
    other_service = ServiceFactory(name="Printing")
    same_site = _booked(end_user.person, engineer, start, end, sites=[warsaw])
    _booked(end_user.person, engineer, start, end, services=[other_service])
    _booked(end_user.person, engineer, start, end, sites=[other_site])
    _booked(
        end_user.person, engineer, start, end, state=State.AWAITING_APPROVAL, services=[service]
    )
    _booked(end_user.person, engineer, start, end, state=State.CLOSED, services=[service])
    implementing = _booked(
        end_user.person, engineer, start, end, state=State.IMPLEMENTING, services=[service]
    )
    found = _conflicts(end_user, engineer, start, end, services=[service], sites=[warsaw])
    assert set(found.changes) == {same_site, implementing}


@pytest.mark.django_db
def test_freeze_periods_global_scoped_and_the_emergency_exception(end_user, engineer, service):
    year_end = FreezePeriod.objects.create(
        name="Year-end closing",
        start=datetime(2027, 12, 20, tzinfo=WARSAW),
        end=datetime(2028, 1, 3, tzinfo=WARSAW),
        is_global=True,
        allows_emergency=True,
    )
    payroll = FreezePeriod.objects.create(
        name="Payroll run",
        start=datetime(2027, 12, 27, tzinfo=WARSAW),
        end=datetime(2027, 12, 28, tzinfo=WARSAW),
        allows_emergency=False,
    )
    payroll.services.set([service])
    inside = (datetime(2027, 12, 27, 10, tzinfo=WARSAW), datetime(2027, 12, 27, 11, tzinfo=WARSAW))
    normal = _conflicts(end_user, engineer, *inside, services=[service])
    assert normal.freezes == [year_end, payroll]
    elsewhere = _conflicts(end_user, engineer, *inside, services=[ServiceFactory(name="Wiki")])
    assert elsewhere.freezes == [year_end]
    emergency = _conflicts(
        end_user, engineer, *inside, services=[service], type=ChangeType.EMERGENCY
    )
    assert emergency.freezes == [payroll]
    # The freeze ends at 00:00 on 3 January: work starting then is outside it.
    after = _conflicts(
        end_user,
        engineer,
        datetime(2028, 1, 3, tzinfo=WARSAW),
        datetime(2028, 1, 3, 2, tzinfo=WARSAW),
    )
    assert after.freezes == []


@pytest.mark.django_db
def test_window_must_be_ordered_and_aware(end_user):
    from helpdesk.errors import ValidationError

    start = datetime(2027, 5, 4, 9, tzinfo=WARSAW)
    with pytest.raises(ValidationError):
        make_change(requester=end_user.person, by=end_user, planned_start=start, planned_end=start)
    with pytest.raises(ValidationError):
        make_change(
            requester=end_user.person,
            by=end_user,
            planned_start=datetime(2027, 5, 4, 9),
            planned_end=datetime(2027, 5, 4, 10),
        )
    change = make_change(requester=end_user.person, by=end_user)
    with pytest.raises(ValidationError):
        services.change_update(change=change, by=end_user, planned_end=change.planned_start)


def _freeze(start, end, **fields):
    freeze = FreezePeriod.objects.create(
        name=fields.pop("name", "Year end"), start=start, end=end, **fields
    )
    return freeze


def _approved(requester, by, start, end, **fields):
    change = services.change_create(
        requester=requester,
        by=by,
        title="Patch the mail server",
        planned_start=start,
        planned_end=end,
        **fields,
    )
    Change.objects.filter(pk=change.pk).update(state=State.APPROVED)
    change.refresh_from_db()
    return change


def test_scheduling_into_a_freeze_is_refused(end_user, engineer, service):
    start = timezone.now().replace(microsecond=0) + timedelta(days=3)
    _freeze(start - timedelta(days=1), start + timedelta(days=1), is_global=True)
    change = _approved(end_user.person, engineer, start, start + timedelta(hours=2))
    with pytest.raises(ValidationError) as refused:
        services.change_schedule(change=change, by=engineer)
    assert "Year end" in str(refused.value.message_dict["planned_start"])
    change.refresh_from_db()
    assert change.state == State.APPROVED
    # Outside the freeze (it ends where the new window starts) the same change is booked.
    later = start + timedelta(days=1)
    booked = services.change_schedule(
        change=change, by=engineer, planned_start=later, planned_end=later + timedelta(hours=2)
    )
    assert booked.state == State.SCHEDULED


def test_a_freeze_of_another_service_does_not_refuse(end_user, engineer, service):
    start = timezone.now().replace(microsecond=0) + timedelta(days=3)
    freeze = _freeze(start - timedelta(hours=1), start + timedelta(hours=5))
    freeze.services.set([ServiceFactory(name="Payroll")])
    change = _approved(end_user.person, engineer, start, start + timedelta(hours=2))
    change.services.set([service])
    assert services.change_schedule(change=change, by=engineer).state == State.SCHEDULED
    freeze.services.add(service)
    other = _approved(end_user.person, engineer, start, start + timedelta(hours=2))
    other.services.set([service])
    with pytest.raises(ValidationError):
        services.change_schedule(change=other, by=engineer)


@pytest.mark.parametrize("allows_emergency, booked", [(True, True), (False, False)])
def test_an_emergency_change_passes_a_freeze_that_allows_emergencies(
    end_user, engineer, allows_emergency, booked
):
    start = timezone.now().replace(microsecond=0) + timedelta(days=3)
    _freeze(start, start + timedelta(days=1), is_global=True, allows_emergency=allows_emergency)
    change = _approved(
        end_user.person, engineer, start, start + timedelta(hours=2), type=ChangeType.EMERGENCY
    )
    if booked:
        assert services.change_schedule(change=change, by=engineer).state == State.SCHEDULED
    else:
        with pytest.raises(ValidationError):
            services.change_schedule(change=change, by=engineer)


def test_moving_a_scheduled_window_into_a_freeze_is_refused(end_user, engineer):
    start = timezone.now().replace(microsecond=0) + timedelta(days=3)
    change = _approved(end_user.person, engineer, start, start + timedelta(hours=2))
    change = services.change_schedule(change=change, by=engineer)
    _freeze(start + timedelta(days=5), start + timedelta(days=8), is_global=True)
    moved = start + timedelta(days=6)
    with pytest.raises(ValidationError):
        services.change_update(
            change=change, by=engineer, planned_start=moved, planned_end=moved + timedelta(hours=1)
        )
    # A draft's window is only a wish: editing it into a freeze is allowed (a warning).
    draft = services.change_create(requester=end_user.person, by=engineer, title="Later")
    services.change_update(
        change=draft, by=engineer, planned_start=moved, planned_end=moved + timedelta(hours=1)
    )
