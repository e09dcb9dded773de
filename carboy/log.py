"""carboy's loggers, their default format, and JSON lines.

carboy logs through :mod:`logging`, one logger per area, all under ``carboy``:

* ``carboy.request``: the access log (one line per request, when ``access_log`` is on);
* ``carboy.error``: unhandled errors, with their tracebacks;
* ``carboy.security``: refused ``Host`` headers, WebSocket ``Origin``\\ s, CORS preflights;
* ``carboy.db``: the database battery (a database that is down, rate-limited).

:func:`configure_logging` gives the ``carboy`` logger a handler in the
format the settings choose; ``carboy run`` calls it. Without it, the records
go wherever your own logging configuration sends them.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
import time
from typing import IO, TYPE_CHECKING, Any

from carboy import _temporal

if TYPE_CHECKING:
    from carboy.settings import Settings


#: Set by ``carboy run`` to its ``--log-level``: each worker's app then calls configure_logging.
RUN_LOG_LEVEL_ENV = "CARBOY_RUN_LOG_LEVEL"
#: The default line: ``2026-12-01 23:40:00,123 WARNING carboy.security: Rejected ...``.
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Attributes every LogRecord has; anything else was passed in ``extra=`` and is kept.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))).union(
    {"message", "asctime", "taskName"}
)


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and every ``extra`` field.

    Example:
        >>> record = logging.LogRecord("carboy.request", 20, "", 0, "GET / 200", None, None)
        >>> record.status = 200
        >>> line = json.loads(JSONFormatter().format(record))
        >>> line["logger"], line["message"], line["status"]
        ('carboy.request', 'GET / 200', 200)
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON (a traceback goes in ``"exception"``)."""
        data: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=_extra_value, ensure_ascii=False)


def _extra_value(value: Any) -> Any:
    """An ``extra`` value JSON has no type for: datetimes as in responses, the rest as text."""
    if isinstance(value, datetime.datetime):
        return _temporal.format_datetime(value)
    if isinstance(value, datetime.time):
        return _temporal.format_time(value)
    return str(value)


def configure_logging(
    settings: Settings | None = None,
    *,
    level: int | str = logging.INFO,
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Send carboy's logs to ``stream`` (stderr) as text or JSON lines.

    The format is ``settings.log_format``: ``"text"`` (:data:`TEXT_FORMAT`)
    or ``"json"`` (:class:`JSONFormatter`). Only the ``carboy`` logger is
    touched, and calling it again replaces the handler it added before
    instead of adding a second. Records still propagate to the root logger:
    if you configure that one yourself, you do not need this.

    Args:
        settings: The settings to read ``log_format`` from; defaults to text.
        level: The ``carboy`` logger's level.
        stream: Where the lines go; ``sys.stderr`` by default.

    Returns:
        The handler it installed.

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> _ = configure_logging(Settings(log_format="json"), stream=out)
        >>> logging.getLogger("carboy.db").warning("down")
        >>> json.loads(out.getvalue())["message"]
        'down'
    """
    fmt = settings.log_format if settings is not None else "text"
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler._carboy = True  # type: ignore[attr-defined]  # marks the handler to replace
    logger = logging.getLogger("carboy")
    for old in [h for h in logger.handlers if getattr(h, "_carboy", False)]:
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(level)
    # logging.config.fileConfig (Alembic's env.py calls it) disables the loggers that
    # existed before it ran: carboy's would go silent.
    for name, existing in logging.root.manager.loggerDict.items():
        if (name == "carboy" or name.startswith("carboy.")) and isinstance(
            existing, logging.Logger
        ):
            existing.disabled = False
    return handler


class RateLimitedLogger:
    """At most one line per ``interval`` seconds; the next says how many were dropped.

    For failures that repeat on every request (a database that is down):
    the log shows that it happens without one line per request.

    Args:
        logger: Where the lines go.
        interval: Seconds between two lines.

    Example:
        >>> log = RateLimitedLogger(logging.getLogger("carboy.db"), interval=10)
        >>> log.warning("Database unavailable: %s", "connection refused")
    """

    __slots__ = ("_next", "_suppressed", "interval", "logger")

    def __init__(self, logger: logging.Logger, *, interval: float) -> None:
        self.logger = logger
        self.interval = interval
        self._next = 0.0
        self._suppressed = 0

    def warning(self, msg: str, *args: object) -> bool:
        """Log ``msg % args`` as a warning unless one went out less than ``interval`` ago.

        Returns:
            Whether the line was logged.
        """
        now = time.monotonic()
        if now < self._next:
            self._suppressed += 1
            return False
        self._next = now + self.interval
        if self._suppressed:
            msg += f" ({self._suppressed} more like it in the last {self.interval:g}s not logged)"
            self._suppressed = 0
        self.logger.warning(msg, *args)
        return True
