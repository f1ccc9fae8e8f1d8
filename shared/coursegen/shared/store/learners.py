"""Learners (``learner_links``, ``learner_progress``, ``quiz_attempts``): per learner, per course, per module.

Progress belongs to the course, not to one version: each row keeps the
fingerprint of the module's objectives it was earned on, so a newly published
version keeps the completion of every unchanged module and marks a changed one
``updated`` instead of silently resetting it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from coursegen.shared.store._pool import Connection


class ProgressStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    UPDATED = "updated"
    """Completed on an earlier version whose objectives have since changed: worth another look."""


class ModuleProgress(BaseModel):
    model_config = ConfigDict(frozen=True)

    module_index: int
    fingerprint: str
    status: ProgressStatus
    version: int
    completed_at: datetime | None


class QuizAttempt(BaseModel):
    model_config = ConfigDict(frozen=True)

    module_index: int
    version: int
    correct: int
    total: int
    score: float
    at: datetime


async def progress(
    conn: Connection, company_id: uuid.UUID, employee_id: uuid.UUID, course_id: uuid.UUID
) -> list[ModuleProgress]:
    rows = await conn.fetch(
        """
        SELECT module_index, fingerprint, status, version, completed_at FROM learner_progress
         WHERE company_id = $1 AND employee_id = $2 AND course_id = $3 ORDER BY module_index
        """,
        company_id,
        employee_id,
        course_id,
    )
    return [ModuleProgress.model_validate(dict(r)) for r in rows]


async def set_progress(
    conn: Connection,
    *,
    company_id: uuid.UUID,
    employee_id: uuid.UUID,
    course_id: uuid.UUID,
    module_index: int,
    fingerprint: str,
    status: ProgressStatus,
    version: int,
) -> None:
    await conn.execute(
        """
        INSERT INTO learner_progress (company_id, employee_id, course_id, module_index, fingerprint, status, version,
                                      completed_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $6 = 'completed' THEN now() END)
        ON CONFLICT (employee_id, course_id, module_index) DO UPDATE
           SET fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status, version = EXCLUDED.version,
               completed_at = CASE WHEN EXCLUDED.status = 'completed'
                                   THEN coalesce(learner_progress.completed_at, now())
                                   ELSE learner_progress.completed_at END,
               updated_at = now()
         WHERE learner_progress.company_id = EXCLUDED.company_id
        """,
        company_id,
        employee_id,
        course_id,
        module_index,
        fingerprint,
        str(status),
        version,
    )


async def carry_over(
    conn: Connection, *, company_id: uuid.UUID, course_id: uuid.UUID, fingerprints: list[str], version: int
) -> None:
    """A version was published: every learner's progress moves onto it, module by module.

    A module whose objectives are unchanged (same fingerprint, wherever it now sits) keeps its
    status; a completed module whose objectives changed becomes ``updated``; progress on a
    module that no longer exists is dropped.
    """
    rows = await conn.fetch(
        "SELECT employee_id, module_index, fingerprint, status FROM learner_progress "
        "WHERE company_id = $1 AND course_id = $2",
        company_id,
        course_id,
    )
    by_learner: dict[uuid.UUID, list[tuple[int, str, str]]] = {}
    for r in rows:
        by_learner.setdefault(r["employee_id"], []).append((r["module_index"], r["fingerprint"], r["status"]))
    for employee_id, entries in by_learner.items():
        by_print = {fp: status for _, fp, status in entries}
        by_index = {index: status for index, _, status in entries}
        await conn.execute(
            "DELETE FROM learner_progress WHERE company_id = $1 AND course_id = $2 AND employee_id = $3",
            company_id,
            course_id,
            employee_id,
        )
        for index, fp in enumerate(fingerprints):
            if fp in by_print:
                status = by_print[fp]
            elif by_index.get(index) in (ProgressStatus.COMPLETED, ProgressStatus.UPDATED):
                status = ProgressStatus.UPDATED
            else:
                continue
            await set_progress(
                conn,
                company_id=company_id,
                employee_id=employee_id,
                course_id=course_id,
                module_index=index,
                fingerprint=fp,
                status=ProgressStatus(status),
                version=version,
            )


async def record_attempt(
    conn: Connection,
    *,
    company_id: uuid.UUID,
    employee_id: uuid.UUID,
    course_id: uuid.UUID,
    version: int,
    module_index: int,
    answers: list[int],
    correct: int,
    total: int,
) -> QuizAttempt:
    row = await conn.fetchrow(
        """
        INSERT INTO quiz_attempts (company_id, employee_id, course_id, version, module_index, answers, correct,
                                   total, score)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        RETURNING module_index, version, correct, total, score, at
        """,
        company_id,
        employee_id,
        course_id,
        version,
        module_index,
        answers,
        correct,
        total,
        correct / total if total else 0.0,
    )
    assert row is not None
    return QuizAttempt.model_validate(dict(row))


async def attempts(
    conn: Connection, company_id: uuid.UUID, employee_id: uuid.UUID, course_id: uuid.UUID
) -> list[QuizAttempt]:
    rows = await conn.fetch(
        """
        SELECT module_index, version, correct, total, score, at FROM quiz_attempts
         WHERE company_id = $1 AND employee_id = $2 AND course_id = $3 ORDER BY at
        """,
        company_id,
        employee_id,
        course_id,
    )
    return [QuizAttempt.model_validate(dict(r)) for r in rows]


class Learner(BaseModel):
    """Who opened a personal link: an employee of one company."""

    model_config = ConfigDict(frozen=True)

    company_id: uuid.UUID
    employee_id: uuid.UUID
    name: str
    company_name: str


async def create_link(
    conn: Connection,
    *,
    company_id: uuid.UUID,
    employee_id: uuid.UUID,
    token_hash: str,
    created_by: str,
    expires_at: datetime,
) -> None:
    """A personal link for an employee of this company (refused for another company's employee)."""
    inserted = await conn.fetchval(
        """
        INSERT INTO learner_links (token_hash, company_id, employee_id, created_by, expires_at)
        SELECT $1, e.company_id, e.id, $4, $5 FROM employees e WHERE e.company_id = $2 AND e.id = $3
        RETURNING 1
        """,
        token_hash,
        company_id,
        employee_id,
        created_by,
        expires_at,
    )
    if inserted is None:
        raise LookupError(f"company {company_id} has no employee {employee_id}")


async def learner_of_link(conn: Connection, token_hash: str) -> Learner | None:
    """The employee a personal link belongs to, while it is neither expired nor revoked."""
    # Before the company is known: through the owner's narrow lookup (row-level security).
    row = await conn.fetchrow("SELECT company_id, employee_id, name, company_name FROM learner_of_link($1)", token_hash)
    return Learner.model_validate(dict(row)) if row else None


async def revoke_links(conn: Connection, company_id: uuid.UUID, employee_id: uuid.UUID) -> int:
    """Revoke every open personal link of an employee; how many were open."""
    result: str = await conn.execute(
        "UPDATE learner_links SET revoked_at = now() WHERE company_id = $1 AND employee_id = $2 "
        "AND revoked_at IS NULL AND expires_at > now()",
        company_id,
        employee_id,
    )
    return int(result.rsplit(" ", 1)[-1])


async def open_links(conn: Connection, company_id: uuid.UUID, employee_id: uuid.UUID) -> int:
    count = await conn.fetchval(
        "SELECT count(*) FROM learner_links WHERE company_id = $1 AND employee_id = $2 "
        "AND revoked_at IS NULL AND expires_at > now()",
        company_id,
        employee_id,
    )
    return int(count or 0)
