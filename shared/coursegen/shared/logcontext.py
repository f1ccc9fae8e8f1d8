"""What a log line is about: the message being handled, and its trace.

The service binds the ids of each message it takes (``bound``); ``ContextFilter``
adds them, with the current trace and span id, to every record logged while it
is handled, so a JSON log line can be joined to its job, course run and trace.
Ids only: names, profiles and content never enter the context.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace as otel_trace

from coursegen.shared.events import loose_ids

_fields: ContextVar[dict[str, Any] | None] = ContextVar("coursegen_log_fields", default=None)

FIELDS = ("stage", "job_id", "employee_id", "session_id", "module_index", "trace_id", "span_id")
"""The fields ``ContextFilter`` may add to a record."""


@contextlib.contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Add ``fields`` (None values left out) to the log context of the code inside."""
    current = _fields.get() or {}
    token = _fields.set({**current, **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _fields.reset(token)


def message_ids(body: bytes) -> dict[str, Any]:
    """The ids an event's JSON carries (whatever of them parse), for the log context."""
    ids = loose_ids(body)
    fields: dict[str, Any] = {k: str(ids[k]) for k in ("job_id", "employee_id") if k in ids}
    if "session_id" in ids:
        fields["session_id"] = ids["session_id"][:100]
    if "module_index" in ids:
        fields["module_index"] = ids["module_index"]
    return fields


class ContextFilter(logging.Filter):
    """Adds the bound ids and the current trace to each record (never overriding a record's own ``extra``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_fields.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        ctx = otel_trace.get_current_span().get_span_context()
        if ctx.is_valid and not hasattr(record, "trace_id"):
            record.trace_id = format(ctx.trace_id, "032x")
            record.span_id = format(ctx.span_id, "016x")
        return True
