"""The console queue's sorts at size, in-process: each sort key both ways, pages 1 and 20.

    .venv/bin/python bench/queue_sorts.py                       # "All open", every sort
    .venv/bin/python bench/queue_sorts.py open,all              # tabs
    .venv/bin/python bench/queue_sorts.py open created,-group   # some sorts
    .venv/bin/python bench/queue_sorts.py open '' channel=sms service=17   # with filters
    EXPLAIN=1 .venv/bin/python bench/queue_sorts.py open created         # + the plan

The queue is built as the view builds it (``tickets.views.queue``: the tab's condition, the
filters of QueueFilterForm's cleaned names, ``selectors.queue_sorted``) for the demo agent on
DATABASE_URL (default hd_bench, see bench/generate.py). Prints, per sort, the time of page 1
(the second read of it) and of page 20 (rows 951-1000), the 50 tickets with their tags and
watch marks included, and the capped count the paginator runs. Over HTTP with the server in
front: bench/speed.py.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hd_bench")


def main() -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from helpdesk.paging import capped_count
    from tickets import selectors
    from tickets.models import OPEN_STATUSES
    from tickets.views.queue import _queue_condition

    user = get_user_model().objects.get(username=os.environ.get("QUEUE_USER", "agent"))
    queues = sys.argv[1].split(",") if len(sys.argv) > 1 and sys.argv[1] else ["open"]
    sorts = [s for k in selectors.QUEUE_SORTS for s in (k, "-" + k)]
    if len(sys.argv) > 2 and sys.argv[2]:
        sorts = sys.argv[2].split(",")
    filters = dict(argument.split("=", 1) for argument in sys.argv[3:])
    for queue in queues:
        for sort in sorts:
            tickets = selectors.ticket_list(user)
            if queue != "all":
                tickets = tickets.filter(_queue_condition(queue, user), status__in=OPEN_STATUSES)
            tickets = selectors.ticket_queue_filter(tickets, filters)
            _value, rows = selectors.queue_sorted(tickets, sort, user, default="-created")
            started = time.perf_counter()
            capped_count(rows, 1000)
            counted = (time.perf_counter() - started) * 1000
            times = []
            for page in (0, 0, 19):
                started = time.perf_counter()
                found = list(rows[page * 50 : page * 50 + 50])
                times.append((time.perf_counter() - started) * 1000)
            print(
                f"{queue:10} {sort:10} {filters or ''} page 1 {times[1]:7.1f} ms  "
                f"page 20 {times[2]:7.1f} ms  rows {len(found)}  count {counted:.1f} ms",
                flush=True,
            )
            if os.environ.get("EXPLAIN") and hasattr(rows, "explain"):
                print(rows[:50].explain(analyze=True, buffers=True))


if __name__ == "__main__":
    main()
