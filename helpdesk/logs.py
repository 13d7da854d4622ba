"""Logging helpers named in ``settings.LOGGING``."""

from __future__ import annotations

import logging


class OneLineClientErrors(logging.Filter):
    """Drop the traceback of a record about a 4xx answer (a refused, missing or forged
    request: ``django.request``, ``django.security.*``), so it is one line in the log.

    Django attaches the ``PermissionDenied`` or ``Http404`` it caught to the record; its
    traceback only shows the view that refused. Answers of 500 and above keep theirs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        return True
