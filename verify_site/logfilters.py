"""Freelancer tokens never reach a log line.

A freelancer's link token (`/c/<token>/...`) and a calendar-feed token (`/feeds/calendar/<token>`)
each open someone's case: a log line carrying one would hand it to whoever reads the logs. Both
are replaced by `…` in:
- gunicorn's access log (`gunicorn.conf.py` sets `logger_class` to `TokenMaskingGunicornLogger`:
  the request line, path, query and referer of every line are masked before formatting);
- Django's own logging (`runserver`'s request lines, "Not Found: /c/<token>/" warnings):
  `TokenFilter` on the console handler (settings.LOGGING).
"""

import logging
import re
from typing import Any

_TOKEN_PATHS = re.compile(r"(/c/|/feeds/calendar/)[^/\s?#\"']+")
MASK = "…"


def mask_tokens(text: str) -> str:
    """`text` with every token in a freelancer or calendar-feed path replaced by `…`."""
    return _TOKEN_PATHS.sub(lambda match: match.group(1) + MASK, text)


def _masked(value: Any) -> Any:
    return mask_tokens(value) if isinstance(value, str) else value


class TokenFilter(logging.Filter):
    """Masks tokens in a record's message and arguments (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _masked(record.msg)
        if isinstance(record.args, dict):
            record.args = {key: _masked(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_masked(value) for value in record.args)
        return True


try:
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # gunicorn is a production dependency; tests and runserver do not need it
    _GunicornLogger = None

if _GunicornLogger is not None:

    class TokenMaskingGunicornLogger(_GunicornLogger):
        """gunicorn's logger with every atom of an access-log line masked: the request line
        (`%(r)s`), the path (`%(U)s`), the referer (`%(f)s`, `%({referer}i)s`) and the rest."""

        def atoms(self, resp, req, environ, request_time):
            return {key: _masked(value) for key, value in super().atoms(resp, req, environ, request_time).items()}
