"""Log records with secrets masked, by the same rules as traces.

A failing tool's exception often carries the arguments it was called with (a
password, a key); its log line and traceback would otherwise put them in the
server's log in clear.
"""

from __future__ import annotations

import logging

from .redaction import redact_text, secret_values

__all__ = ["RedactingFilter", "redact_logs"]

_FORMATTER = logging.Formatter()


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message, traceback and stack before any handler sees them.

    The exception itself is dropped from the record (handlers get its redacted
    text in ``exc_text``): its arguments hold the same secrets.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = secret_values()
        try:
            message = record.getMessage()
        except Exception:  # bad arguments: the template alone, rather than an error here
            message = str(record.msg)
        record.msg, record.args = redact_text(message, secrets), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        record.exc_info = None
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info, secrets)
        return True


def redact_logs(logger: logging.Logger) -> logging.Logger:
    """``logger``, with a :class:`RedactingFilter` on it (added once)."""
    if not any(isinstance(existing, RedactingFilter) for existing in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger
