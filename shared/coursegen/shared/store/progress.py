"""Job progress: each run's percentage, the job's counts, and whether every run has ended.

Written by the tracker alone, under the job's row lock (the lock a resume takes
before it reopens a job and its runs).
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict

from coursegen.shared.store._pool import Connection
from coursegen.shared.store.jobs import ENDED_JOB_STATUSES, JobStatus
from coursegen.shared.subjects import MODULE_STAGES


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


async def refresh_job(conn: Connection, job_id: uuid.UUID, *, phase: str | None) -> JobOutcome | None:
    """Bring a job's progress up to date; the outcome when this call closed it. In the caller's transaction."""
    job = await conn.fetchrow(
        "SELECT status, company_id FROM course_generation_jobs WHERE job_id = $1 FOR UPDATE", job_id
    )
    if job is None or JobStatus(job["status"]) in ENDED_JOB_STATUSES:
        return None
    # A run's progress: 5% once planning is under way, 10% planned, then an equal share
    # for each (stage, module) step reached, 100% when it has ended either way.
    await conn.execute(
        """
        UPDATE course_runs r
           SET progress_percentage = CASE
               WHEN r.status IN ('completed', 'no_gaps', 'failed', 'cancelled') THEN 100
               WHEN coalesce(r.modules_total, 0) = 0 THEN 5
               ELSE least(99, 10 + (85 * (
                    SELECT count(DISTINCT (h.to_agent, h.module_index)) FROM cm_agent_handoffs h
                     WHERE h.session_id = r.session_id AND h.to_agent = ANY($2::text[])
               )) / (6 * r.modules_total))
           END
         WHERE r.job_id = $1
        """,
        job_id,
        list(MODULE_STAGES),
    )
    stats = await conn.fetchrow(
        """
        SELECT count(*) AS total,
               count(*) FILTER (WHERE status = 'completed') AS ok,
               count(*) FILTER (WHERE status = 'failed') AS failed,
               count(*) FILTER (WHERE status = 'no_gaps') AS no_gaps,
               -- A finished run counts once its closing event is recorded: that event is published
               -- after all of the run's handoffs, so the audit trail is whole when the job closes.
               count(*) FILTER (WHERE status IN ('failed', 'cancelled')
                    OR (status IN ('completed', 'no_gaps') AND EXISTS (
                        SELECT 1 FROM cm_agent_handoffs h WHERE h.session_id = r.session_id
                           AND h.subject IN ('coursegen.course.ready', 'coursegen.course.skipped')))) AS ended,
               coalesce(round(avg(progress_percentage)), 0)::int AS progress,
               coalesce(array_agg(employee_id ORDER BY employee_id) FILTER (WHERE status = 'failed'), '{}')
                   AS failed_ids,
               string_agg(error_stage || ': ' || error_message, '; ' ORDER BY employee_id)
                   FILTER (WHERE status = 'failed') AS errors,
               coalesce(sum(epoch), 0) AS epochs
          FROM course_runs r WHERE job_id = $1
        """,
        job_id,
    )
    if stats is None or stats["total"] == 0:
        return None
    usage = await conn.fetchrow(
        "SELECT coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens,"
        " count(*) AS agent_runs FROM agent_runs WHERE job_id = $1",
        job_id,
    )
    statistics = {**{k: int(v) for k, v in dict(usage or {}).items()}, "no_gaps": stats["no_gaps"]}
    finished = stats["ended"] == stats["total"]
    current = JobStatus(job["status"])
    if finished:
        status = JobStatus.COMPLETED_WITH_ERRORS if stats["failed"] else JobStatus.COMPLETED
    else:
        status = JobStatus.RUNNING if current is JobStatus.PENDING else current
    await conn.execute(
        """
        UPDATE course_generation_jobs
           SET status = $2, progress_percentage = $3, successful_courses = $4, failed_courses = $5,
               failed_employee_ids = $6, error_message = $7, statistics = $8,
               current_phase = CASE WHEN $9 THEN 'done' ELSE coalesce($10, current_phase) END,
               completed_at = CASE WHEN $9 THEN now() ELSE completed_at END
         WHERE job_id = $1
        """,
        job_id,
        str(status),
        100 if finished else min(99, stats["progress"]),
        stats["ok"],
        stats["failed"],
        list(stats["failed_ids"]),
        stats["errors"],
        statistics,
        finished,
        phase,
    )
    if not finished:
        return None
    return JobOutcome(
        job_id=job_id,
        company_id=job["company_id"],
        status=status,
        successful=stats["ok"],
        failed=stats["failed"],
        failed_employee_ids=list(stats["failed_ids"]),
        epochs=stats["epochs"],
    )
