"""Per-company limits: how many jobs run at once, and how many requests and resumes a minute.

Each check counts under the company's advisory lock, in the caller's transaction,
so two requests arriving together cannot both take the last place.
"""

from __future__ import annotations

import hashlib
import uuid
from enum import StrEnum

from coursegen.shared.store._pool import Connection


class RequestKind(StrEnum):
    JOB = "job"
    RESUME = "resume"


def _company_lock(company_id: uuid.UUID) -> int:
    digest = hashlib.blake2b(f"limits:{company_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def lock_company(conn: Connection, company_id: uuid.UUID) -> None:
    """Serialize the company's limit checks until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _company_lock(company_id))


async def active_jobs(conn: Connection, company_id: uuid.UUID) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM course_generation_jobs WHERE company_id = $1 AND status IN ('pending', 'running')",
        company_id,
    )
    return count


async def requests_last_minute(conn: Connection, company_id: uuid.UUID, kind: RequestKind) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM company_requests "
        "WHERE company_id = $1 AND kind = $2 AND requested_at > now() - interval '1 minute'",
        company_id,
        str(kind),
    )
    return count


async def record_request(conn: Connection, company_id: uuid.UUID, kind: RequestKind) -> None:
    await conn.execute("INSERT INTO company_requests (company_id, kind) VALUES ($1, $2)", company_id, str(kind))
