"""Every write of the telephony app, in modules named for what they do:

- :mod:`~cti.services.ingest`: the entry point for PBX events (``call_event_ingest`` with a
  ``PbxEvent``): storing, deduplicating, retrying, keeping failed events;
- :mod:`~cti.services.identification`: reading the caller's number, finding who calls;
- :mod:`~cti.services.routing`: queues, the default queue, the agents a ring is offered to;
- :mod:`~cti.services.calls`: applying an event to its call through the ``Call`` transitions;
- :mod:`~cti.services.sweep`: ending calls whose hang-up never came;
- :mod:`~cti.services.presence`, :mod:`~cti.services.blocklist`;
- :mod:`~cti.services.ticket_events`: re-pushing live calls' cards when a ticket changes.

The writes an agent makes from the console card and the call log are in
``cti.console_services``. Callers use this package's names (``services.call_event_ingest``).
"""

from cti.services.blocklist import blocked_number_add, blocked_number_remove, is_blocked
from cti.services.identification import (
    MAX_CANDIDATES,
    CallerNumber,
    caller_candidates_from_history,
    caller_number_read,
)
from cti.services.ingest import IngestResult, InvalidCallEvent, PbxEvent, call_event_ingest
from cti.services.presence import (
    SUPERVISOR_SETTABLE,
    after_call_work_end_due,
    presence_set,
    presence_set_by_supervisor,
)
from cti.services.routing import default_queue, queue_available_agents
from cti.services.sweep import calls_end_stale

__all__ = [
    "MAX_CANDIDATES",
    "SUPERVISOR_SETTABLE",
    "CallerNumber",
    "IngestResult",
    "InvalidCallEvent",
    "PbxEvent",
    "after_call_work_end_due",
    "blocked_number_add",
    "blocked_number_remove",
    "call_event_ingest",
    "caller_candidates_from_history",
    "caller_number_read",
    "calls_end_stale",
    "default_queue",
    "is_blocked",
    "presence_set",
    "presence_set_by_supervisor",
    "queue_available_agents",
]
