"""Logging of a service process: JSON lines for collectors, plain lines for a person at a terminal."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from coursegen.shared.logcontext import ContextFilter

# Attributes every LogRecord has; anything else on a record is an ``extra`` worth keeping.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "service"}


class _ServiceFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, service, logger, message, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": getattr(record, "service", None),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and value not in ("", None):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _ToRoot(logging.StreamHandler):  # type: ignore[type-arg]
    """Sends FastStream's records through our handler.

    FastStream gives its loggers a colourised stdout handler and turns
    propagation off, unless the logger has a stdout StreamHandler already:
    this is one, forwarding to the root logger's handlers instead of writing.
    """

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    def emit(self, record: logging.LogRecord) -> None:
        root = logging.getLogger()
        if record.levelno >= root.getEffectiveLevel():
            root.handle(record)


def configure_logging(service: str, *, level: int = logging.INFO, json_lines: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ServiceFilter(service))
    # The job, course run, stage and trace of the message being handled, on every line about it.
    handler.addFilter(ContextFilter())
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s [%(service)s] %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("faststream", "faststream.access.nats"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [_ToRoot()]
        logger.propagate = False
