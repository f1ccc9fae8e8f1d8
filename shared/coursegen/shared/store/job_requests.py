"""Job requests the gateway published: a job is known from its request on, before the coordinator creates it."""

from __future__ import annotations

import uuid

from coursegen.shared.store._pool import Connection


async def record_job_request(
    conn: Connection,
    company_id: uuid.UUID,
    *,
    job_id: uuid.UUID,
    event_id: uuid.UUID,
    requested_by: uuid.UUID | None,
    employees: int,
    token_budget: int | None,
) -> None:
    await conn.execute(
        """
        INSERT INTO gateway_job_requests (job_id, company_id, event_id, requested_by, employees, token_budget)
        VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (job_id) DO NOTHING
        """,
        job_id,
        company_id,
        event_id,
        requested_by,
        employees,
        token_budget,
    )


async def job_request_by_event(conn: Connection, event_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID, int] | None:
    """(company id, job id, employees) of the request published with this event id (an idempotency key)."""
    row = await conn.fetchrow(
        "SELECT company_id, job_id, employees FROM gateway_job_requests WHERE event_id = $1", event_id
    )
    return (row["company_id"], row["job_id"], row["employees"]) if row else None


async def job_request_key_taken_elsewhere(conn: Connection, event_id: uuid.UUID) -> bool:
    """Whether another company than the transaction's own published a request with this event id.

    A yes or no through the owner's narrow lookup: row-level security hides the other company's request.
    """
    taken: bool = await conn.fetchval("SELECT job_request_key_taken_elsewhere($1)", event_id)
    return taken
