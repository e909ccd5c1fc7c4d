"""Logging for a serving process: one format, and no API key in any line written.

:func:`configure_logging` runs in every worker process (from the ASGI factory, after uvicorn
has set up its own loggers). It gives the root logger a handler if it has none, and puts
:class:`RedactKeys` on the handlers of the root logger and of uvicorn's loggers, so a key
(``hsk_…``) in a message, its arguments, an exception or a request line uvicorn logs (its access
log carries the query string, where a key pasted into a filter would be) is cut to its shown
prefix by :func:`hostsync.store.redaction.redact_keys` before any handler writes it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from hostsync.store.redaction import redact_keys

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
_MARK = "hsk_"


def _redact(value: object) -> object:
    return redact_keys(value) if isinstance(value, str) else value


class RedactKeys(logging.Filter):
    """A handler filter that redacts API keys in a record; it never drops a record.

    The arguments are redacted one by one (uvicorn's access formatter reads them as a tuple);
    if a key survives in the formatted message (an argument that is not a string), the
    message is replaced by its redacted text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; always keep it."""
        if isinstance(record.msg, str) and _MARK in record.msg:
            record.msg = redact_keys(record.msg)
        args = record.args
        if args:
            if isinstance(args, tuple):
                if any(isinstance(arg, str) and _MARK in arg for arg in args):
                    record.args = tuple(_redact(arg) for arg in args)
            elif isinstance(args, Mapping):
                record.args = {name: _redact(arg) for name, arg in args.items()}
            try:
                message = record.getMessage()
            except Exception:  # logging reports the bad format itself
                message = ""
            if _MARK in message and redact_keys(message) != message:
                record.msg, record.args = redact_keys(message), None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            if _MARK in text:
                record.exc_text = redact_keys(text)
        if record.exc_text and _MARK in record.exc_text:
            record.exc_text = redact_keys(record.exc_text)
        if record.stack_info and _MARK in record.stack_info:
            record.stack_info = redact_keys(record.stack_info)
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """Give the root logger a handler if it has none; redact keys on every handler we know."""
    logging.basicConfig(level=level, format=LOG_FORMAT)
    for name in ("", *UVICORN_LOGGERS):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(existing, RedactKeys) for existing in handler.filters):
                handler.addFilter(RedactKeys())
