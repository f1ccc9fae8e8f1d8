"""Jobs and course runs: what the coordinator creates and every stage updates."""

from __future__ import annotations

import uuid
from typing import Any

from coursegen.shared.store._pool import Executor

TERMINAL_RUN_STATUSES = ("completed", "no_gaps", "failed", "cancelled")
TERMINAL_JOB_STATUSES = ("completed", "completed_with_errors", "failed", "cancelled")


async def job_status(db: Executor, job_id: uuid.UUID) -> str | None:
    status: str | None = await db.fetchval("SELECT status FROM course_generation_jobs WHERE job_id = $1", job_id)
    return status


async def get_run(db: Executor, session_id: str) -> dict[str, Any] | None:
    row = await db.fetchrow("SELECT * FROM course_runs WHERE session_id = $1", session_id)
    return dict(row) if row else None


async def mark_stage_started(db: Executor, session_id: str, stage: str) -> None:
    """Record that a stage is working on the run (for progress and stall detection)."""
    await db.execute(
        """
        UPDATE course_runs
           SET current_stage = $2, last_progress_at = now(),
               status = CASE WHEN status = 'pending' THEN 'running' ELSE status END
         WHERE session_id = $1
        """,
        session_id,
        stage,
    )


async def mark_run_failed(db: Executor, session_id: str, *, stage: str, kind: str, message: str, attempts: int) -> bool:
    """Mark a run failed with its error. False when it was already terminal."""
    result: str = await db.execute(
        """
        UPDATE course_runs
           SET status = 'failed', error_stage = $2, error_kind = $3, error_message = $4,
               error_attempts = $5, completed_at = now(), last_progress_at = now()
         WHERE session_id = $1 AND status NOT IN ('completed', 'no_gaps', 'cancelled')
        """,
        session_id,
        stage,
        kind,
        message[:4000],
        attempts,
    )
    return result.endswith(" 1")


async def tokens_used(db: Executor, job_id: uuid.UUID) -> int:
    used: int = await db.fetchval(
        "SELECT coalesce(sum(input_tokens + output_tokens), 0) FROM agent_runs WHERE job_id = $1", job_id
    )
    return used


async def token_budget(db: Executor, job_id: uuid.UUID) -> int | None:
    budget = await db.fetchval(
        "SELECT (job_config->>'token_budget')::int FROM course_generation_jobs WHERE job_id = $1", job_id
    )
    return int(budget) if budget is not None else None
