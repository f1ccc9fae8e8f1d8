"""The record of every event (``cm_agent_handoffs``, the seed's table), written once by the tracker."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict

from coursegen.shared.store._pool import Connection


class EventRecord(BaseModel):
    """One event as the tracker records it."""

    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID
    subject: str
    job_id: uuid.UUID | None
    company_id: uuid.UUID | None
    employee_id: uuid.UUID | None
    session_id: str | None
    module_index: int | None
    revision: int | None
    from_agent: str
    to_agent: str
    context: dict[str, Any]
    occurred_at: str | None
    success: bool
    error_details: str | None
    retry_count: int
    trace_id: str | None


async def record_event(conn: Connection, e: EventRecord) -> bool:
    """Record an event once; False when it was recorded already (a redelivery, a re-publish)."""
    inserted = await conn.fetchval(
        """
        INSERT INTO cm_agent_handoffs (event_id, subject, job_id, company_id, employee_id, session_id,
                                       module_index, revision, from_agent, to_agent, handoff_context,
                                       occurred_at, success, error_details, retry_count, trace_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::text::timestamptz, $13, $14, $15, $16)
        ON CONFLICT (event_id) DO NOTHING
        RETURNING handoff_id
        """,
        e.event_id,
        e.subject,
        e.job_id,
        e.company_id,
        e.employee_id,
        e.session_id,
        e.module_index,
        e.revision,
        e.from_agent,
        e.to_agent,
        e.context,
        e.occurred_at,
        e.success,
        e.error_details,
        e.retry_count,
        e.trace_id,
    )
    return inserted is not None
