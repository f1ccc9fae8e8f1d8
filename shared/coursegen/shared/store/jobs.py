"""Jobs (``course_generation_jobs``): one request for courses, with its runs.

The one owner of ``course_generation_jobs.status``: each allowed transition is
one function, and a transition the table below does not allow is refused.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from coursegen.shared.errors import TransitionRefused
from coursegen.shared.store._pool import Connection


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    COMPLETED_WITH_ERRORS = "completed_with_errors"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def ended(self) -> bool:
        return self in ENDED_JOB_STATUSES


ENDED_JOB_STATUSES = frozenset(
    {JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS, JobStatus.FAILED, JobStatus.CANCELLED}
)

JOB_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.RUNNING, *ENDED_JOB_STATUSES}),
    JobStatus.RUNNING: frozenset({JobStatus.RUNNING, *ENDED_JOB_STATUSES}),
    # A resume reopens a job that ended with failed runs; one that completed has nothing to resume.
    JobStatus.COMPLETED_WITH_ERRORS: frozenset({JobStatus.RUNNING}),
    JobStatus.FAILED: frozenset({JobStatus.RUNNING}),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}
"""Which status a job may move to from each status (mirrored by the ``course_generation_jobs`` trigger)."""


def _sources(to: JobStatus) -> list[str]:
    return [str(s) for s, targets in JOB_TRANSITIONS.items() if to in targets]


class Job(BaseModel):
    model_config = ConfigDict(frozen=True)

    job_id: uuid.UUID
    company_id: uuid.UUID
    status: JobStatus
    total_employees: int
    token_budget: int | None
    request_event_id: uuid.UUID | None


_JOB_COLUMNS = """job_id, company_id, status, total_employees, request_event_id,
    (job_config->>'token_budget')::bigint AS token_budget"""


def _job(row: Any) -> Job | None:
    return Job.model_validate(dict(row)) if row else None


async def get_job(conn: Connection, job_id: uuid.UUID, *, for_update: bool = False) -> Job | None:
    """A job by its id, for the pipeline (which found the id on a stored run)."""
    lock = " FOR UPDATE" if for_update else ""
    return _job(
        await conn.fetchrow(f"SELECT {_JOB_COLUMNS} FROM course_generation_jobs WHERE job_id = $1{lock}", job_id)
    )


async def get_company_job(conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> Job | None:
    """A job of this company; another company's job does not exist."""
    return _job(
        await conn.fetchrow(
            f"SELECT {_JOB_COLUMNS} FROM course_generation_jobs WHERE job_id = $1 AND company_id = $2",
            job_id,
            company_id,
        )
    )


async def job_for_request(conn: Connection, request_event_id: uuid.UUID) -> Job | None:
    """The job a request already created (a redelivered request finds it)."""
    return _job(
        await conn.fetchrow(
            f"SELECT {_JOB_COLUMNS} FROM course_generation_jobs WHERE request_event_id = $1", request_event_id
        )
    )


async def job_exists(conn: Connection, job_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM course_generation_jobs WHERE job_id = $1", job_id))


async def create_job(
    conn: Connection,
    *,
    job_id: uuid.UUID,
    company_id: uuid.UUID,
    requested_by: uuid.UUID | None,
    employees: int,
    token_budget: int | None,
    request_event_id: uuid.UUID,
    config: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        """
        INSERT INTO course_generation_jobs (job_id, company_id, initiated_by, total_employees, status,
                                            current_phase, job_config, request_event_id, started_at)
        VALUES ($1, $2, $3, $4, 'pending', 'planning', $5, $6, now())
        """,
        job_id,
        company_id,
        requested_by,
        employees,
        {**(config or {}), "token_budget": token_budget},
        request_event_id,
    )


async def cancel_job(conn: Connection, job_id: uuid.UUID, *, reason: str = "") -> bool:
    """pending/running → cancelled. False when the job had ended already."""
    result: str = await conn.execute(
        """
        UPDATE course_generation_jobs
           SET status = 'cancelled', completed_at = now(), current_phase = 'cancelled',
               error_message = coalesce(nullif($2, ''), error_message)
         WHERE job_id = $1 AND status = ANY($3::text[])
        """,
        job_id,
        reason,
        _sources(JobStatus.CANCELLED),
    )
    return result.endswith(" 1")


async def reopen_job(conn: Connection, job_id: uuid.UUID) -> None:
    """A resume: the job runs again (its errors cleared). A cancelled job is never reopened."""
    result: str = await conn.execute(
        """
        UPDATE course_generation_jobs
           SET status = 'running', completed_at = NULL, error_message = NULL, failed_employee_ids = '{}',
               progress_percentage = least(99, coalesce(round(progress_sum::numeric / nullif(runs_total, 0)), 0))
         WHERE job_id = $1 AND status = ANY($2::text[])
        """,
        job_id,
        _sources(JobStatus.RUNNING),
    )
    if not result.endswith(" 1"):
        raise TransitionRefused(f"job {job_id} cannot be reopened")


def started_by_event(alias: str) -> str:
    """The assignment by which any recorded event of a pending job starts it (pending → running)."""
    return (
        f"status = CASE WHEN {alias}.status = '{JobStatus.PENDING}' THEN '{JobStatus.RUNNING}' ELSE {alias}.status END"
    )


class JobOutcome(BaseModel):
    """A job that has just ended: what ``job.completed`` says."""

    model_config = ConfigDict(frozen=True)

    job_id: uuid.UUID
    company_id: uuid.UUID
    status: JobStatus
    successful: int
    failed: int
    failed_employee_ids: list[uuid.UUID]
    epochs: int
    """The sum of the runs' epochs: a resumed job that ends again ends as a new event."""


async def close_job(conn: Connection, job_id: uuid.UUID) -> JobOutcome | None:
    """Close a job whose counters say every run has ended; the outcome when this call closed it.

    pending/running → completed or completed_with_errors. Only the first caller closes it, so
    ``job.completed`` is said once per completion.
    """
    row = await conn.fetchrow(
        """
        WITH ended AS (
            SELECT coalesce(array_agg(employee_id ORDER BY employee_id) FILTER (WHERE status = 'failed'), '{}')
                       AS failed_ids,
                   string_agg(error_stage || ': ' || error_message, '; ' ORDER BY employee_id)
                       FILTER (WHERE status = 'failed') AS errors,
                   coalesce(sum(epoch), 0) AS epochs
              FROM course_runs WHERE job_id = $1
        ),
        usage AS (
            SELECT coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens,
                   count(*) AS agent_runs
              FROM agent_runs WHERE job_id = $1
        )
        UPDATE course_generation_jobs j
           SET status = CASE WHEN j.failed_courses > 0 THEN $3::text ELSE $4::text END,
               progress_percentage = 100, current_phase = 'done', completed_at = now(),
               failed_employee_ids = ended.failed_ids, error_message = ended.errors,
               statistics = jsonb_build_object('input_tokens', usage.input_tokens,
                                               'output_tokens', usage.output_tokens,
                                               'agent_runs', usage.agent_runs, 'no_gaps', j.runs_no_gaps)
          FROM ended, usage
         WHERE j.job_id = $1 AND j.status = ANY($2::text[])
           AND j.runs_total > 0 AND j.runs_closed = j.runs_total
        RETURNING j.job_id, j.company_id, j.status, j.successful_courses AS successful, j.failed_courses AS failed,
                  ended.failed_ids AS failed_employee_ids, ended.epochs
        """,
        job_id,
        sorted(set(_sources(JobStatus.COMPLETED)) & set(_sources(JobStatus.COMPLETED_WITH_ERRORS))),
        JobStatus.COMPLETED_WITH_ERRORS,
        JobStatus.COMPLETED,
    )
    return JobOutcome.model_validate(dict(row)) if row else None
