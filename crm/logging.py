"""Logging filters the settings attach (config/settings/base.py ``LOGGING``)."""

import logging


class ClientErrorWithoutTraceback(logging.Filter):
    """A 4xx logged by django.request (a refused permission, a missing page, a bad request) is the
    application answering as designed, not a fault: keep the one-line record, drop the traceback
    Django attaches, so the log shows tracebacks only for real errors (5xx)."""

    def filter(self, record: logging.LogRecord) -> bool:
        status_code = getattr(record, "status_code", None)
        if status_code is not None and 400 <= status_code < 500:
            record.exc_info = None
            record.exc_text = None
        return True
