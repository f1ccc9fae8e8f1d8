"""Recording events and keeping jobs current."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from coursegen.shared.consume import Delivery
from coursegen.shared.errors import InvalidEvent, PermanentError
from coursegen.shared.service import Runtime
from coursegen.shared.store import counters, handoffs
from coursegen.shared.store.rejected import record_rejected
from coursegen.shared.subjects import (
    COURSE_READY,
    COURSE_SKIPPED,
    JOB_ACCEPTED,
    JOB_CANCEL,
    JOB_COMPLETED,
    JOB_REJECTED,
    JOB_REQUESTED,
    JOB_RESUME,
    STAGE_FAILED,
)
from coursegen.tracker.progress import close_if_finished, count_event

log = logging.getLogger("coursegen.tracker")

_ROUTES: dict[str, tuple[str, str]] = {
    JOB_REQUESTED: ("client", "coordinator"),
    JOB_ACCEPTED: ("coordinator", "client"),
    JOB_REJECTED: ("coordinator", "client"),
    JOB_RESUME: ("client", "coordinator"),
    JOB_CANCEL: ("client", "coordinator"),
    STAGE_FAILED: ("stage", "tracker"),
    COURSE_READY: ("finalizer", "client"),
    COURSE_SKIPPED: ("planner", "client"),
    JOB_COMPLETED: ("tracker", "client"),
}


def route_of(subject: str, event: dict[str, Any]) -> tuple[str, str]:
    """(from_agent, to_agent) of an event, in the seed's vocabulary."""
    if subject.startswith("coursegen.handoff."):
        return str(event.get("from_stage") or event.get("source") or "?"), subject.rsplit(".", 1)[-1]
    sender, receiver = _ROUTES.get(subject, (str(event.get("source") or "?"), "tracker"))
    if sender in ("client", "stage"):
        sender = str(event.get("stage") or event.get("source") or sender)
    return sender, receiver


def trace_id_of(headers: Any) -> str | None:
    """The trace id of a W3C ``traceparent`` header (``00-<trace id>-<span id>-<flags>``)."""
    parent = (headers or {}).get("traceparent")
    if not parent:
        return None
    parts = parent.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None


class EventRecorder:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    async def handle(self, delivery: Delivery) -> None:
        try:
            event = json.loads(delivery.body)
        except ValueError as exc:
            raise InvalidEvent(f"not JSON: {exc}") from exc
        if not isinstance(event, dict):
            raise InvalidEvent("not an event: not a JSON object")
        record = event_record(delivery.subject, event, delivery.headers)
        # One transaction per event: it is recorded and counted together, or neither (a redelivery
        # after a crash counts it then), so an event is counted exactly once.
        async with self.rt.db.transaction() as conn:
            if await handoffs.record_event(conn, record):
                job = await count_event(conn, record)
            else:
                log.debug("event %s recorded already", record.event_id)
                job = None
                if record.job_id is not None and record.subject != JOB_COMPLETED:
                    job = await counters.job_counters(conn, record.job_id)
            if job is not None:
                await close_if_finished(conn, self.rt.bus, job)

    async def on_permanent(self, delivery: Delivery, error: PermanentError) -> None:
        # Recorded, never re-published: the tracker must not feed the bus its own failures,
        # and they never fail a course run.
        async with self.rt.db.connection() as conn:
            await record_rejected(
                conn,
                subject=delivery.subject,
                service="tracker",
                reason=str(error),
                body=delivery.body,
                headers=delivery.headers,
            )


def event_record(subject: str, event: dict[str, Any], headers: Any) -> handoffs.EventRecord:
    """What the tracker records of an event: its envelope, read leniently (another team's client may send it).

    Only the event id is required: without one the event cannot be recorded once (InvalidEvent).
    """
    event_id = _uuid(event.get("event_id"))
    if event_id is None:
        raise InvalidEvent("not an event: no valid event_id")
    sender, receiver = route_of(subject, event)
    failed = subject in (STAGE_FAILED, JOB_REJECTED)
    module_index = event.get("module_index")
    revision = event.get("revision")
    return handoffs.EventRecord(
        event_id=event_id,
        subject=subject,
        job_id=_uuid(event.get("job_id")),
        company_id=_uuid(event.get("company_id")),
        employee_id=_uuid(event.get("employee_id")),
        session_id=event.get("session_id") if isinstance(event.get("session_id"), str) else None,
        module_index=module_index if isinstance(module_index, int) and not isinstance(module_index, bool) else None,
        revision=revision if isinstance(revision, int) and not isinstance(revision, bool) else None,
        from_agent=sender,
        to_agent=receiver,
        context=event,
        occurred_at=event.get("occurred_at") if isinstance(event.get("occurred_at"), str) else None,
        success=not failed,
        error_details=str(event.get("message") or event.get("reason")) if failed else None,
        retry_count=max(0, _int(event.get("attempt"), 1) - 1) if subject == STAGE_FAILED else 0,
        trace_id=trace_id_of(headers),
    )


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
