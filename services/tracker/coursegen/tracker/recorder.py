"""Recording events and keeping jobs current."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from coursegen.shared.consume import Delivery
from coursegen.shared.errors import InvalidEvent, PermanentError
from coursegen.shared.service import Runtime
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
from coursegen.tracker.progress import refresh_job

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
        if not isinstance(event, dict) or _uuid(event.get("event_id")) is None:
            raise InvalidEvent("not an event: no valid event_id")
        subject = delivery.subject
        sender, receiver = route_of(subject, event)
        failed = subject in (STAGE_FAILED, JOB_REJECTED)
        job_id = _uuid(event.get("job_id"))
        module_index = event.get("module_index")
        inserted = await self.rt.db.fetchval(
            """
            INSERT INTO cm_agent_handoffs (event_id, subject, job_id, company_id, employee_id, session_id,
                                           module_index, revision, from_agent, to_agent, handoff_context,
                                           occurred_at, success, error_details, retry_count, trace_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::text::timestamptz, $13, $14, $15, $16)
            ON CONFLICT (event_id) DO NOTHING
            RETURNING handoff_id
            """,
            _uuid(event["event_id"]),
            subject,
            job_id,
            _uuid(event.get("company_id")),
            _uuid(event.get("employee_id")),
            event.get("session_id") if isinstance(event.get("session_id"), str) else None,
            module_index if isinstance(module_index, int) else None,
            event.get("revision") if isinstance(event.get("revision"), int) else None,
            sender,
            receiver,
            event,
            event.get("occurred_at") if isinstance(event.get("occurred_at"), str) else None,
            not failed,
            (event.get("message") or event.get("reason")) if failed else None,
            max(0, int(event.get("attempt") or 1) - 1) if subject == STAGE_FAILED else 0,
            trace_id_of(delivery.headers),
        )
        if inserted is None:
            log.debug("event %s recorded already", event["event_id"])
        elif isinstance(event.get("session_id"), str) and not failed:
            # Any event of a run is progress: the stall watcher looks for runs without any.
            await self.rt.db.execute(
                "UPDATE course_runs SET last_progress_at = now() WHERE session_id = $1", event["session_id"]
            )
        if job_id is not None and subject != JOB_COMPLETED:
            await refresh_job(self.rt.db, self.rt.bus, job_id, subject=subject)

    async def on_permanent(self, delivery: Delivery, error: PermanentError) -> None:
        # Recorded, never re-published: the tracker must not feed the bus its own failures.
        await record_rejected(
            self.rt.db,
            subject=delivery.subject,
            service="tracker",
            reason=str(error),
            body=delivery.body,
            headers=delivery.headers,
        )
