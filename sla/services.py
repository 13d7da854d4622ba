"""SLA clocks: started, paused, resumed and stopped by ticket events; alerts by the sweep.

Every write of this app is here. The ticket register does not know SLAs: ``SlaConfig.ready``
subscribes ``on_ticket_event`` to its events, and the periodic task ``sla.sweep`` calls
``sla_sweep``. Clock arithmetic is in business time (``sla.business_time``).
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import OuterRef, Q, Subquery
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from helpdesk import refdata
from helpdesk.errors import PermissionDenied, TransitionNotAllowedError, ValidationError
from helpdesk.models import SupportGroup
from helpdesk.roles import can_work_tickets
from sla import statements
from sla.business_time import Schedule, add_business_time, business_time_between
from sla.models import (
    BusinessCalendar,
    ReportSubscription,
    SlaAlert,
    SlaClock,
    SlaPolicy,
    SlaThreshold,
    Target,
)
from tickets import events
from tickets.models import Channel, Comment, Status, Ticket

logger = logging.getLogger(__name__)

Outcome = SlaClock.Outcome
SWEEP_BATCH = 500


# --- calendars --------------------------------------------------------------------------------

_schedules: dict[tuple[int, datetime], Schedule] = {}


def schedule_for(calendar: BusinessCalendar) -> Schedule:
    """The calendar's schedule, cached per process until the calendar is saved again."""
    key = (calendar.pk, calendar.updated_at)
    schedule = _schedules.get(key)
    if schedule is None:
        if len(_schedules) > 256:
            _schedules.clear()
        schedule = _schedules[key] = calendar.schedule()
    return schedule


def calendar_touch(*, calendar: BusinessCalendar) -> None:
    """After hours or exceptions changed: new schedule, and running clocks' due times moved."""
    calendar.updated_at = timezone.now()
    calendar.save(update_fields=["updated_at"])
    clocks = SlaClock.objects.filter(calendar=calendar, stopped_at__isnull=True).select_related(
        "calendar"
    )
    thresholds = _thresholds()
    touched = set()
    for clock in clocks:
        _schedule_alerts(clock, thresholds)
        clock.save(update_fields=["due_at", "next_alert_at"])
        touched.add(clock.ticket_id)
    due_sync(touched)


def due_sync(ticket_ids) -> None:
    """Copy the earliest due time of each ticket's running clocks onto the ticket (the queue
    sorts and filters on ``Ticket.due_at``); no version bump, no event: it is derived."""
    earliest = (
        SlaClock.objects.filter(
            ticket_id=OuterRef("pk"), stopped_at__isnull=True, due_at__isnull=False
        )
        .order_by("due_at")
        .values("due_at")[:1]
    )
    Ticket.objects.filter(pk__in=list(ticket_ids)).update(due_at=Subquery(earliest))


# --- choosing the policy ----------------------------------------------------------------------


def policy_for(ticket: Ticket) -> SlaPolicy | None:
    """The active policy of the ticket's priority that matches it most specifically (a copy of
    the policy kept in the process, its calendar attached: ``helpdesk.refdata``)."""
    candidates = [
        policy
        for policy in refdata.active(SlaPolicy)
        if policy.priority == ticket.priority
        and policy.service_id in (None, ticket.service_id)
        and policy.ticket_type in ("", ticket.type)
    ]
    if any(policy.vip_only for policy in candidates) and not ticket.caller.is_vip:
        candidates = [policy for policy in candidates if not policy.vip_only]
    if not candidates:
        return None
    best = refdata.get(SlaPolicy, max(candidates, key=lambda p: (p.specificity, -p.pk)).pk)
    refdata.attach(best, "calendar")
    return best


# --- clock arithmetic -------------------------------------------------------------------------


def _thresholds() -> list[int]:
    """The active alert thresholds in percent, lowest first (kept in the process)."""
    return [threshold.percent for threshold in refdata.active(SlaThreshold, order_by="percent")]


def _instant(clock: SlaClock, share: float) -> datetime:
    """When ``share`` of the goal will have run, counting the time spent paused."""
    return add_business_time(
        schedule_for(clock.calendar), clock.started_at, clock.goal * share + clock.paused_for
    )


def _schedule_alerts(clock: SlaClock, thresholds: list[int], fired: Iterable[int] = ()) -> None:
    if clock.stopped_at is not None or clock.paused_since is not None:
        clock.due_at = clock.next_alert_at = None
        return
    clock.due_at = _instant(clock, 1)
    pending = [percent for percent in thresholds if percent not in set(fired)]
    clock.next_alert_at = _instant(clock, pending[0] / 100) if pending else None


def elapsed(clock: SlaClock, at: datetime | None = None) -> timedelta:
    """Business time the clock has run (pauses excluded) until ``at`` or its stop."""
    end = clock.stopped_at or clock.paused_since or at or timezone.now()
    schedule = schedule_for(clock.calendar)
    return business_time_between(schedule, clock.started_at, end) - clock.paused_for


def remaining(clock: SlaClock, at: datetime | None = None) -> timedelta:
    """Business time left before the target falls due (negative once breached)."""
    return clock.goal - elapsed(clock, at)


def _start(ticket: Ticket, target: str, policy: SlaPolicy, at: datetime, thresholds) -> SlaClock:
    clock = SlaClock(
        ticket=ticket,
        target=target,
        policy=policy,
        calendar=policy.calendar,
        goal=policy.goal(target),
        started_at=at,
    )
    _schedule_alerts(clock, thresholds)
    clock.save()
    return clock


def _start_all(
    ticket: Ticket, targets: Iterable[str], policy: SlaPolicy, at: datetime, thresholds
) -> list[SlaClock]:
    """Clocks for ``targets`` started at ``at``, written in one statement."""
    clocks = [
        SlaClock(
            ticket=ticket,
            target=target,
            policy=policy,
            calendar=policy.calendar,
            goal=policy.goal(target),
            started_at=at,
        )
        for target in targets
    ]
    for clock in clocks:
        _schedule_alerts(clock, thresholds)
    return SlaClock.objects.bulk_create(clocks)


def _pause(clock: SlaClock, at: datetime) -> None:
    if clock.paused_since is None and clock.stopped_at is None:
        clock.paused_since = at
        clock.due_at = clock.next_alert_at = None
        clock.save(update_fields=["paused_since", "due_at", "next_alert_at"])


def _resume(clock: SlaClock, at: datetime, thresholds) -> None:
    if clock.paused_since is None:
        return
    clock.paused_for += business_time_between(schedule_for(clock.calendar), clock.paused_since, at)
    clock.paused_since = None
    _schedule_alerts(clock, thresholds, clock.fired)
    clock.save(update_fields=["paused_since", "paused_for", "due_at", "next_alert_at"])


def _stop(clock: SlaClock, at: datetime, *, cancelled: bool = False) -> None:
    if clock.stopped_at is not None:
        return
    if clock.paused_since is not None:
        clock.paused_for += business_time_between(
            schedule_for(clock.calendar), clock.paused_since, at
        )
        clock.paused_since = None
    clock.stopped_at = at
    if cancelled:
        clock.outcome = Outcome.CANCELLED
    else:
        clock.margin = clock.goal - elapsed(clock)
        clock.outcome = Outcome.MET if clock.margin >= timedelta(0) else Outcome.BREACHED
        if clock.outcome == Outcome.BREACHED and clock.breached_at is None:
            clock.breached_at = _instant(clock, 1)
    clock.due_at = clock.next_alert_at = None
    clock.save()


def _revive(clock: SlaClock, at: datetime, thresholds) -> None:
    """A reopened ticket: the resolution clock runs on; the time it lay resolved is a pause."""
    clock.paused_for += business_time_between(schedule_for(clock.calendar), clock.stopped_at, at)
    clock.stopped_at = None
    clock.outcome = Outcome.RUNNING
    clock.margin = None
    _schedule_alerts(clock, thresholds, clock.fired)
    clock.save()


def _rebase(clock: SlaClock, policy: SlaPolicy, thresholds) -> None:
    """The ticket's policy changed (priority, service, type, VIP): same start, new goal."""
    clock.policy = policy
    clock.calendar = policy.calendar
    clock.goal = policy.goal(clock.target) or clock.goal
    _schedule_alerts(clock, thresholds, clock.fired)
    clock.save(update_fields=["policy", "calendar", "goal", "due_at", "next_alert_at"])


# --- reacting to ticket events ----------------------------------------------------------------


def pausing_reasons() -> set[str]:
    return set(settings.SLA_PAUSING_REASONS)


def on_ticket_event(event: events.TicketEvent) -> None:
    """Start, pause, resume, stop or re-base the ticket's clocks (listener of ticket events)."""
    if event.kind == events.Kind.ATTACHED:
        return
    if event.kind == events.Kind.COMMENTED and event.is_internal:
        return
    with transaction.atomic():
        ticket = statements.ticket_for_clocks(event.ticket_id)
        if ticket is None:
            return
        # A new ticket's clocks are started below; it has none to read yet.
        clocks = (
            {}
            if event.kind == events.Kind.CREATED
            else {clock.target: clock for clock in statements.running_clocks(ticket.pk)}
        )
        if _apply(event, ticket, clocks):
            statements.due_sync(ticket.pk)


def _apply(event: events.TicketEvent, ticket: Ticket, clocks: dict[str, SlaClock]) -> bool:
    """Act on one event; False when the ticket's due time needs no sync from its clocks (no
    clock can have changed, or the due time was written here)."""
    at = event.at
    if event.kind == events.Kind.CREATED:
        policy = policy_for(ticket)
        if policy is None:
            return False
        targets = []
        if ticket.first_response_at is None:
            targets.append(Target.FIRST_RESPONSE)
        # Solved on first contact: nothing left to measure.
        if ticket.status not in (Status.RESOLVED, Status.CLOSED):
            targets.append(Target.RESOLUTION)
        if not targets:
            return False
        started = _start_all(ticket, targets, policy, ticket.created_at, _thresholds())
        for clock in started:
            if clock.target == Target.RESOLUTION and ticket.status == Status.PENDING:
                _pause(clock, at)
        # Its only clocks are these: the due time is theirs, no need to read them back.
        due = [clock.due_at for clock in started if clock.due_at is not None]
        Ticket.objects.filter(pk=ticket.pk).update(due_at=min(due, default=None))
        return False
    _with_fired(clocks.values())
    if event.kind == events.Kind.UPDATED:
        if not any(event.change(name) for name in ("priority", "service", "type")):
            return False
        policy_changed(ticket, clocks, at)
        return True
    if event.kind == events.Kind.COMMENTED:
        _on_reply(event, ticket, clocks, at)
        return True
    status = event.change("status")
    if not clocks and not (status and status.old == Status.RESOLVED):
        return False
    _on_transition(event, ticket, clocks, at)
    return True


def _with_fired(clocks: Iterable[SlaClock]) -> None:
    clocks = list(clocks)
    fired: dict[int, list[int]] = {clock.pk: [] for clock in clocks}
    if clocks:
        for clock_id, percent in SlaAlert.objects.filter(clock__in=clocks).values_list(
            "clock_id", "percent"
        ):
            fired[clock_id].append(percent)
    for clock in clocks:
        clock.fired = fired[clock.pk]


def policy_changed(ticket: Ticket, clocks: dict[str, SlaClock], at: datetime) -> None:
    policy = policy_for(ticket)
    thresholds = _thresholds()
    if policy is None:
        for clock in clocks.values():
            _stop(clock, at, cancelled=True)
        return
    for clock in clocks.values():
        if clock.policy_id != policy.pk:
            if clock.target == Target.NEXT_RESPONSE and policy.next_response is None:
                _stop(clock, at, cancelled=True)
            else:
                _rebase(clock, policy, thresholds)
    if (
        not clocks
        and ticket.status
        in (
            Status.NEW,
            Status.ASSIGNED,
            Status.IN_PROGRESS,
            Status.PENDING,
        )
        and not SlaClock.objects.filter(ticket_id=ticket.pk).exists()
    ):
        # The ticket had no policy until now: its clocks run from its creation.
        targets = [Target.RESOLUTION]
        if ticket.first_response_at is None:
            targets.insert(0, Target.FIRST_RESPONSE)
        _start_all(ticket, targets, policy, ticket.created_at, thresholds)


def _on_transition(event, ticket, clocks, at) -> None:
    status = event.change("status")
    thresholds = _thresholds()
    if status and status.old == Status.PENDING and status.new != Status.PENDING:
        for clock in clocks.values():
            _resume(clock, at, thresholds)
    if event.change("first_response_at") and Target.FIRST_RESPONSE in clocks:
        _stop(clocks.pop(Target.FIRST_RESPONSE), at)
    if status is None:
        return
    if status.new == Status.PENDING and ticket.pending_reason in pausing_reasons():
        for clock in clocks.values():
            _pause(clock, at)
    elif status.new == Status.RESOLVED:
        for clock in clocks.values():
            _stop(clock, at)
    elif status.new in (Status.CLOSED, Status.CANCELLED) and status.old != Status.RESOLVED:
        for clock in clocks.values():
            _stop(clock, at, cancelled=True)
    elif status.old == Status.RESOLVED and status.new in (Status.NEW, Status.ASSIGNED):
        last = (
            SlaClock.objects.select_related("calendar")
            .filter(ticket_id=ticket.pk, target=Target.RESOLUTION, stopped_at__isnull=False)
            .exclude(outcome=Outcome.CANCELLED)
            .order_by("-stopped_at", "-pk")
            .first()
        )
        if last is not None:
            _with_fired([last])
            _revive(last, at, thresholds)


def _on_reply(event, ticket, clocks, at) -> None:
    comment = (
        Comment.objects.select_related("author")
        .only("pk", "author__id", "author__is_active", "author__is_superuser", "author_person_id")
        .filter(pk=event.comment_id)
        .first()
    )
    if comment is None:
        return
    by_worker = comment.author is not None and can_work_tickets(comment.author)
    if by_worker:
        for target in (Target.FIRST_RESPONSE, Target.NEXT_RESPONSE):
            if target in clocks:
                _stop(clocks[target], at)
        return
    by_caller = (comment.author_id is not None and comment.author_id == ticket.caller.user_id) or (
        comment.author_id is None and comment.author_person_id == ticket.caller_id
    )
    if not by_caller or Target.NEXT_RESPONSE in clocks or ticket.first_response_at is None:
        return
    if ticket.status not in (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.PENDING):
        return
    resolution = clocks.get(Target.RESOLUTION)
    policy = resolution.policy if resolution is not None else policy_for(ticket)
    if policy is not None and policy.next_response is not None:
        _start(ticket, Target.NEXT_RESPONSE, policy, at, _thresholds())


# --- the sweep: warnings and breaches, exactly once per clock and threshold ----------------


@dataclass(frozen=True)
class SlaNotice:
    """A threshold reached, for the channels that tell people (mail, the console)."""

    ticket_id: int
    clock_id: int
    target: str
    percent: int
    due_at: datetime
    recipient_ids: tuple[int, ...]


NoticeListener = Callable[[list[SlaNotice]], None]
_notice_listeners: list[NoticeListener] = []


def subscribe_notices(listener: NoticeListener) -> None:
    """Call ``listener(notices)`` with the list of ``SlaNotice`` of each sweep batch, after
    the batch's transaction commits."""
    if listener not in _notice_listeners:
        _notice_listeners.append(listener)


def _deliver(notices: list[SlaNotice]) -> None:
    for listener in list(_notice_listeners):
        try:
            listener(notices)
        except Exception:
            logger.exception("SLA notice listener %s failed for %d notices", listener, len(notices))


class _Recipients:
    """Who hears of a ticket's alert: its assignee, else its group's members; and managers.

    Read once per sweep (managers) and once per group, not once per alert.
    """

    def __init__(self):
        from django.contrib.auth import get_user_model

        self.User = get_user_model()
        self.managers = set(
            self.User.objects.filter(
                Q(groups__permissions__codename="view_reports")
                | Q(user_permissions__codename="view_reports"),
                is_active=True,
            ).values_list("pk", flat=True)
        )
        self.groups: dict[int, set[int]] = {}

    def __call__(self, ticket: Ticket) -> tuple[int, ...]:
        people = set(self.managers)
        if ticket.assignee_id:
            people.add(ticket.assignee_id)
        elif ticket.group_id:
            if ticket.group_id not in self.groups:
                self.groups[ticket.group_id] = set(
                    self.User.objects.filter(
                        support_groups=ticket.group_id, is_active=True
                    ).values_list("pk", flat=True)
                )
            people |= self.groups[ticket.group_id]
        return tuple(sorted(people))


def _act(clock: SlaClock, threshold: SlaThreshold) -> str:
    """The threshold's escalations by rule, in the sweep's transaction; what was done."""
    from tickets import services as tickets

    if not (threshold.raise_priority or threshold.escalate):
        return ""
    done = []
    reason = _("%(target)s reached %(percent)d%% of its service-level target.") % {
        "target": clock.get_target_display(),
        "percent": threshold.percent,
    }
    # As stored now: an action for another clock of this ticket may have changed it.
    ticket = Ticket.objects.select_related("group", "service__owner_group").get(pk=clock.ticket_id)
    if threshold.raise_priority:
        before = ticket.priority
        ticket = tickets.ticket_priority_raise(ticket=ticket, by=None, reason=reason)
        if ticket.priority != before:
            done.append(f"priority P{before}->P{ticket.priority}")
    if threshold.escalate:
        group = _escalation_group(ticket)
        if group is None:
            done.append("escalation: no higher-tier group")
        else:
            try:
                tickets.ticket_escalate(
                    ticket=ticket, by=None, group=group, diagnostic_notes=reason
                )
                done.append(f"escalated to {group.code}")
            except (ValidationError, TransitionNotAllowedError) as error:
                done.append(f"escalation refused: {error}"[:80])
    return ", ".join(done)[:120]


def _escalation_group(ticket: Ticket):
    """The service owner's group when it is above the ticket's tier (the next line)."""
    service = ticket.service
    owner = getattr(service, "owner_group", None) if service is not None else None
    current = ticket.group.tier if ticket.group_id else SupportGroup.Tier.FIRST
    if owner is not None and owner.is_active and owner.tier > current:
        return owner
    return None


def sla_sweep(*, now: datetime | None = None, batch: int = SWEEP_BATCH) -> int:
    """Fire every threshold reached by a running clock; returns the alerts written.

    Works in batches of clocks, each in one transaction with a bounded number of statements:
    the clocks locked ``SKIP LOCKED`` (PostgreSQL: two sweeps at once share the work), their
    fired thresholds read, the new alerts inserted in one statement that skips the ones
    already there (``ON CONFLICT DO NOTHING RETURNING``: only the sweep whose row went in acts
    on it), the clocks' next alert times written back in one statement. Notices are handed to
    the listeners as one list per batch, after its commit.
    """
    now = now or timezone.now()
    thresholds = {
        threshold.percent: threshold for threshold in SlaThreshold.objects.filter(is_active=True)
    }
    percents = sorted(thresholds)
    recipients = _Recipients()
    written = 0
    while True:
        with transaction.atomic():
            clocks = list(
                SlaClock.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("calendar", "ticket")
                .filter(next_alert_at__lte=now, stopped_at__isnull=True, paused_since__isnull=True)
                .order_by("next_alert_at")[:batch]
            )
            if not clocks:
                return written
            written += _fire_batch(clocks, thresholds, percents, now, recipients)
        if len(clocks) < batch:
            return written


def _fire_batch(clocks: list[SlaClock], thresholds, percents, now, recipients) -> int:
    _with_fired(clocks)
    reached = []  # (clock, percent, instant)
    for clock in clocks:
        for percent in percents:
            if percent in clock.fired:
                continue
            instant = _instant(clock, percent / 100)
            if instant > now:
                break
            reached.append((clock, percent, instant))
    inserted = _alerts_insert([(clock.pk, percent) for clock, percent, _at in reached], now)
    notices = []
    for clock, percent, instant in reached:
        clock.fired.append(percent)
        if (clock.pk, percent) not in inserted:
            continue  # another sweep got there first and acted
        if percent >= 100 and clock.breached_at is None:
            clock.breached_at = clock.due_at or instant
        threshold = thresholds[percent]
        actions = _act(clock, threshold)
        if actions:
            SlaAlert.objects.filter(clock=clock, percent=percent).update(actions=actions)
        if threshold.notify:
            notices.append(
                SlaNotice(
                    ticket_id=clock.ticket_id,
                    clock_id=clock.pk,
                    target=clock.target,
                    percent=percent,
                    due_at=clock.due_at or instant,
                    recipient_ids=recipients(clock.ticket),
                )
            )
    for clock in clocks:
        _schedule_alerts(clock, percents, clock.fired)
    _clock_times_write(clocks)
    if notices:
        transaction.on_commit(lambda: _deliver(notices))
    return len(inserted)


def _clock_times_write(clocks: list[SlaClock]) -> None:
    """Write the clocks' due, next-alert and breach times back in one statement."""
    if connection.vendor != "postgresql":
        SlaClock.objects.bulk_update(clocks, ["due_at", "next_alert_at", "breached_at"])
        return
    # Django's bulk_update builds a CASE of every row for each column: 0.6 s of Python per
    # 500 clocks. The rows go as four arrays (four parameters: a statement with a
    # placeholder per value costs the driver's parsing of it too).
    table = connection.ops.quote_name(SlaClock._meta.db_table)
    with connection.cursor() as cursor:
        # The table name comes from the model; the values are parameters.
        cursor.execute(
            f"UPDATE {table} AS clock SET due_at = v.due_at, next_alert_at = v.next_alert_at, "  # noqa: S608
            "breached_at = v.breached_at FROM unnest(%s::bigint[], %s::timestamptz[], "
            "%s::timestamptz[], %s::timestamptz[]) AS v(id, due_at, next_alert_at, breached_at) "
            "WHERE clock.id = v.id",
            [
                [clock.pk for clock in clocks],
                [clock.due_at for clock in clocks],
                [clock.next_alert_at for clock in clocks],
                [clock.breached_at for clock in clocks],
            ],
        )


def _alerts_insert(rows: list[tuple[int, int]], at: datetime) -> set[tuple[int, int]]:
    """Insert (clock, percent) alerts; the ones this call inserted (not those already there)."""
    if not rows:
        return set()
    table = connection.ops.quote_name(SlaAlert._meta.db_table)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # As arrays: two parameters whatever the batch (see _clock_times_write).
            cursor.execute(
                f"INSERT INTO {table} (clock_id, percent, at, actions) "  # noqa: S608
                "SELECT clock_id, percent, %s, '' FROM unnest(%s::bigint[], %s::int[]) "
                "AS v(clock_id, percent) "
                "ON CONFLICT (clock_id, percent) DO NOTHING RETURNING clock_id, percent",
                [at, [clock_id for clock_id, _p in rows], [percent for _c, percent in rows]],
            )
            return {(clock_id, percent) for clock_id, percent in cursor.fetchall()}
    stamp = connection.ops.adapt_datetimefield_value(at)
    placeholders = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
    params = [value for clock_id, percent in rows for value in (clock_id, percent, stamp, "")]
    with connection.cursor() as cursor:
        # The table name comes from the model and the placeholders are only "%s": no input
        # reaches the SQL text.
        cursor.execute(
            f"INSERT INTO {table} (clock_id, percent, at, actions) VALUES {placeholders} "  # noqa: S608
            "ON CONFLICT (clock_id, percent) DO NOTHING RETURNING clock_id, percent",
            params,
        )
        return {(clock_id, percent) for clock_id, percent in cursor.fetchall()}


# --- admin changes and roll-out ---------------------------------------------------------------


def policy_saved(*, policy: SlaPolicy) -> int:
    """An admin changed a policy's goals or calendar: running clocks of it follow."""
    thresholds = _thresholds()
    clocks = list(
        SlaClock.objects.select_related("calendar", "policy").filter(
            policy=policy, stopped_at__isnull=True
        )
    )
    _with_fired(clocks)
    for clock in clocks:
        if policy.goal(clock.target) is None:
            _stop(clock, timezone.now(), cancelled=True)
        else:
            _rebase(clock, policy, thresholds)
    due_sync({clock.ticket_id for clock in clocks})
    return len(clocks)


def on_person_changed(person_id: int, fields: frozenset[str]) -> None:
    """A caller became (or stopped being) a VIP: their open tickets' clocks follow the policy
    that now matches (listener of ``helpdesk.services.subscribe_person_changes``)."""
    if "is_vip" not in fields:
        return
    open_statuses = [Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.PENDING]
    tickets = Ticket.objects.select_related("caller").filter(
        caller_id=person_id, status__in=open_statuses
    )
    now = timezone.now()
    for ticket in tickets:
        with transaction.atomic():
            clocks = {
                clock.target: clock
                for clock in SlaClock.objects.select_related("calendar", "policy").filter(
                    ticket_id=ticket.pk, stopped_at__isnull=True
                )
            }
            _with_fired(clocks.values())
            policy_changed(ticket, clocks, now)
            due_sync([ticket.pk])


ROLL_OUT_NOTE = "passed before the clocks started"


def _mark_passed_silently(ticket_id: int, now: datetime, percents: list[int]) -> None:
    """Clocks started for an old ticket: the thresholds it passed long ago are recorded as
    fired, without notices or escalations (a roll-out must not send a mail per old ticket),
    and the clocks wait for the next threshold still ahead."""
    clocks = list(
        SlaClock.objects.select_related("calendar").filter(
            ticket_id=ticket_id, stopped_at__isnull=True, paused_since__isnull=True
        )
    )
    for clock in clocks:
        passed = [p for p in percents if _instant(clock, p / 100) <= now]
        SlaAlert.objects.bulk_create(
            [SlaAlert(clock=clock, percent=p, at=now, actions=ROLL_OUT_NOTE) for p in passed],
            ignore_conflicts=True,
        )
        if any(p >= 100 for p in passed) and clock.breached_at is None:
            clock.breached_at = _instant(clock, 1)
        _schedule_alerts(clock, percents, passed)
        clock.save(update_fields=["due_at", "next_alert_at", "breached_at"])


def clocks_start_for_open_tickets(*, batch: int = 1000) -> int:
    """Start clocks for open tickets that have none (a new installation, a new policy).

    The clocks run from each ticket's creation; thresholds already passed are recorded
    without notices (see ``_mark_passed_silently``)."""
    started = 0
    percents = _thresholds()
    open_statuses = [Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.PENDING]
    tickets = (
        Ticket.objects.select_related("caller")
        .filter(status__in=open_statuses)
        .exclude(sla_clocks__isnull=False)
        .order_by("pk")
    )
    for ticket in tickets.iterator(chunk_size=batch):
        with transaction.atomic():
            before = SlaClock.objects.filter(ticket_id=ticket.pk).count()
            policy_changed(ticket, {}, timezone.now())
            if ticket.status == Status.PENDING and ticket.pending_reason in pausing_reasons():
                for clock in SlaClock.objects.select_related("calendar").filter(
                    ticket_id=ticket.pk, stopped_at__isnull=True
                ):
                    _pause(clock, timezone.now())
            _mark_passed_silently(ticket.pk, timezone.now(), percents)
            started += SlaClock.objects.filter(ticket_id=ticket.pk).count() - before
            due_sync([ticket.pk])
    return started


# --- the weekly summary ------------------------------------------------------------------


def week_start(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def last_complete_week(now: datetime | None = None) -> date:
    """The Monday of the last week that has ended, in the site's time zone."""
    today = timezone.localdate(now or timezone.now(), timezone.get_default_timezone())
    return week_start(today) - timedelta(days=7)


def report_subscription_set(
    *, user, active: bool, narrowing: dict | None = None, now: datetime | None = None
) -> ReportSubscription | None:
    """Subscribe ``user`` to the weekly summary of the dashboard, narrowed by ``narrowing``
    (``site``, ``group``, ``service``: rows or None; ``channel``), or end the subscription.

    The first summary goes out the next Monday (the week that has already ended is not
    sent again when a manager changes the narrowing)."""
    if not user.has_perm("tickets.view_reports"):
        raise PermissionDenied
    if not active:
        ReportSubscription.objects.filter(user=user).update(is_active=False)
        return None
    if not (user.email or getattr(getattr(user, "person", None), "email", "")):
        raise ValidationError(
            {"email": _("Your account has no e-mail address to send the summary to.")}
        )
    narrowing = narrowing or {}
    subscription, created = ReportSubscription.objects.update_or_create(
        user=user,
        defaults={
            "site": narrowing.get("site"),
            "group": narrowing.get("group"),
            "service": narrowing.get("service"),
            "channel": narrowing.get("channel") or "",
            "is_active": True,
        },
    )
    if created or subscription.last_week is None:
        subscription.last_week = last_complete_week(now)
        subscription.save(update_fields=["last_week"])
    return subscription


def weekly_reports_send(*, now: datetime | None = None) -> int:
    """Mail each due subscription last week's summary; the number sent.

    Once per subscription and week, even when two workers run it at once (the row is locked
    and skipped by the other; on SQLite writes are serialised). A send that fails (the mail
    server refuses or is down) leaves the week unsent with the error noted: the next run
    retries it."""
    monday = last_complete_week(now)
    not_sent = Q(last_week__isnull=True) | Q(last_week__lt=monday)
    due = ReportSubscription.objects.filter(not_sent, is_active=True, user__is_active=True)
    sent = 0
    for pk in due.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            subscription = (
                ReportSubscription.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(not_sent, pk=pk, is_active=True)
                .select_related("user", "site", "group", "service")
                .first()
            )
            if subscription is None:
                continue
            try:
                weekly_report_mail(subscription=subscription, monday=monday).send()
            except (OSError, smtplib.SMTPException) as error:
                logger.warning(
                    "weekly report for user %s not sent: %s", subscription.user_id, error
                )
                subscription.last_error = str(error)[:1000]
                subscription.save(update_fields=["last_error"])
                continue
            subscription.last_week = monday
            subscription.last_error = ""
            subscription.save(update_fields=["last_week", "last_error"])
            sent += 1
    return sent


def weekly_report_mail(*, subscription: ReportSubscription, monday: date) -> EmailMessage:
    """The summary of the week starting ``monday`` for ``subscription``: the headline figures
    in the text, every dashboard table as a sheet of the attached workbook, in the manager's
    language and time zone."""
    from sla import dashboard, exports
    from sla.reports import ReportFilter

    user = subscription.user
    person = getattr(user, "person", None)
    language = (person.language if person else "") or settings.LANGUAGE_CODE
    zone = (person.time_zone if person else "") or settings.TIME_ZONE
    with translation.override(language), timezone.override(zone):
        filters = ReportFilter.for_days(
            monday,
            monday + timedelta(days=6),
            site_id=subscription.site_id,
            group_id=subscription.group_id,
            service_id=subscription.service_id,
            channel=subscription.channel,
        )
        figures = dashboard.build(filters)
        context = {
            "user": user,
            "first": monday,
            "last": monday + timedelta(days=6),
            "subscription": subscription,
            "channel": Channel(subscription.channel).label if subscription.channel else "",
            "kpis": figures["kpis"],
        }
        subject = render_to_string("sla/weekly/subject.txt", context).strip()
        body = render_to_string("sla/weekly/body.txt", context)
        tables = figures["tables"].values()
        workbook = exports.workbook_bytes(
            [(str(table.title), table.header, table.values()) for table in tables]
        )
    message = EmailMessage(
        subject=" ".join(subject.split()),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[(person.email if person and person.email else "") or user.email],
    )
    message.attach(f"service-summary-{monday.isoformat()}.xlsx", workbook, exports.XLSX_TYPE)
    return message
