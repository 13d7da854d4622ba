"""Ending calls whose hang-up never arrived.

Consoles read ringing and answered calls from the database, so a lost hang-up would pop its
card on every reconnect. The periodic task (``cti.end_stale_calls``) ends such calls, and
so does ring traffic, now and then (:data:`in_request_throttle`), so that no extra scheduler
is needed for them to be cleaned up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cti import notify
from cti.models import Call, Pbx
from cti.services.calls import call_ended_save

logger = logging.getLogger(__name__)

# Calls ended per sweep: a backlog (after an outage) drains over a few sweeps. Each ended
# call is pushed to the consoles (~5 ms, ~20 ms on a loaded 2-core machine), so the sweep a
# ring request runs ends only a few: that request answers its PBX after the sweep, and
# other rings of its process wait for the CPU meanwhile. The periodic task (beat) takes
# the larger batch.
STALE_BATCH = 50
STALE_BATCH_IN_REQUEST = 5


class SweepThrottle:
    """Says when this process last swept long enough ago (CTI_STALE_SWEEP_SECONDS) to
    sweep again. ``clock``: seconds of a monotonic clock (injectable for tests)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._last = float("-inf")
        self._lock = threading.Lock()

    def due(self) -> bool:
        """Whether a sweep is due now; if so, the next one is due an interval from now."""
        now = self.clock()
        with self._lock:
            if now - self._last < settings.CTI_STALE_SWEEP_SECONDS:
                return False
            self._last = now
            return True

    def reset(self) -> None:
        """Make the next :meth:`due` true (as in a process that has not swept yet)."""
        with self._lock:
            self._last = float("-inf")


# The throttle of the sweeps that ride on ring traffic, one per process.
in_request_throttle = SweepThrottle()


def stale_sweep_schedule() -> None:
    """In a ring's transaction: end a few stale calls after it commits, if this process
    has not looked for them for a while (at most once per CTI_STALE_SWEEP_SECONDS)."""
    if in_request_throttle.due():
        transaction.on_commit(_stale_sweep_in_request)


def _stale_sweep_in_request() -> None:
    try:
        calls_end_stale(limit=STALE_BATCH_IN_REQUEST)
    except Exception:
        logger.exception("CTI: ending stale calls failed")


def _default_limits() -> tuple[timedelta, timedelta]:
    return (
        timedelta(seconds=settings.CTI_RING_TIMEOUT),
        timedelta(seconds=settings.CTI_CALL_MAX_SECONDS),
    )


def pbx_limits() -> dict[int, tuple[timedelta, timedelta]]:
    """Each PBX's longest ring and longest call (``Pbx.ring_timeout_seconds``,
    ``Pbx.call_max_seconds``), by PBX id. One query: PBXes are few."""
    return {
        pbx_id: (timedelta(seconds=ring), timedelta(seconds=talk))
        for pbx_id, ring, talk in Pbx.objects.values_list(
            "pk", "ring_timeout_seconds", "call_max_seconds"
        )
    }


def _pbxes_by_limits(limits: dict) -> dict[tuple, list[int]]:
    grouped: dict[tuple, list[int]] = {}
    for pbx_id, pair in limits.items():
        grouped.setdefault(pair, []).append(pbx_id)
    return grouped


def _stale(now: datetime, ring_timeout: timedelta, talk_limit: timedelta) -> Q:
    return Q(state=Call.State.RINGING, started_at__lt=now - ring_timeout) | Q(
        state=Call.State.ANSWERED, answered_at__lt=now - talk_limit
    )


@transaction.atomic
def calls_end_stale(*, now: datetime | None = None, limit: int | None = None) -> int:
    """End calls whose hang-up never arrived, at most ``limit`` (STALE_BATCH when None);
    return how many.

    A call still ringing its PBX's ``ring_timeout_seconds`` after it started becomes missed;
    one still talking after the PBX's ``call_max_seconds`` ends as answered and frees its
    agent (``Call.miss``). Both default to CTI_RING_TIMEOUT / CTI_CALL_MAX_SECONDS.
    Safe to run at any time and as often as wanted.
    """
    now = now or timezone.now()
    limits = pbx_limits()
    stale_now = Q()
    for (ring_timeout, talk_limit), pbx_ids in _pbxes_by_limits(limits).items():
        stale_now |= _stale(now, ring_timeout, talk_limit) & Q(pbx_id__in=pbx_ids)
    # Calls of no PBX (it was deleted) keep the settings' limits.
    stale_now |= _stale(now, *_default_limits()) & Q(pbx__isnull=True)
    stale = list(
        Call.objects.select_for_update(skip_locked=True).filter(stale_now)[: limit or STALE_BATCH]
    )
    for call in stale:
        ring_timeout, talk_limit = limits.get(call.pbx_id) or _default_limits()
        call.miss(ring_timeout=ring_timeout, talk_limit=talk_limit)
        call_ended_save(call)
        transaction.on_commit(lambda call_pk=call.pk: notify.call_changed(call_pk))
    if stale:
        logger.info("CTI: ended %d calls whose hang-up never arrived", len(stale))
    return len(stale)
