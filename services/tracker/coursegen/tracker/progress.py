"""Job progress and completion, computed from the course runs and the recorded handoffs."""

from __future__ import annotations

import uuid

from coursegen.shared.bus import Bus
from coursegen.shared.events import JobCompleted
from coursegen.shared.store import Executor
from coursegen.shared.subjects import JOB_COMPLETED, MODULE_STAGES

PHASES = {
    "planner": "planning",
    "researcher": "research",
    "content": "content",
    "quality": "quality",
    "enhancer": "enhancement",
    "multimedia": "multimedia",
    "finalizer": "finalizing",
}


def phase_of(subject: str) -> str | None:
    if subject.startswith("coursegen.handoff."):
        return PHASES.get(subject.rsplit(".", 1)[-1])
    return None


async def refresh_job(db: Executor, bus: Bus, job_id: uuid.UUID, *, subject: str) -> None:
    """Bring a job's progress up to date; close it (once) when every run has ended."""
    async with db.acquire() as conn, conn.transaction():  # type: ignore[union-attr]
        # The job's row lock first: resume reopens a job and its runs under it, so the runs read
        # below are never older than the job's status.
        job = await conn.fetchrow(
            "SELECT status, company_id FROM course_generation_jobs WHERE job_id = $1 FOR UPDATE", job_id
        )
        if job is None or job["status"] in ("completed", "completed_with_errors", "failed", "cancelled"):
            return
        # A run's progress: 5% once planned is under way, 10% planned, then an equal share
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
            return
        phase = phase_of(subject)
        usage = await conn.fetchrow(
            "SELECT coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens,"
            " count(*) AS agent_runs FROM agent_runs WHERE job_id = $1",
            job_id,
        )
        statistics = {**dict(usage or {}), "no_gaps": stats["no_gaps"]}
        finished = stats["ended"] == stats["total"]
        status = (
            ("completed_with_errors" if stats["failed"] else "completed")
            if finished
            else ("running" if job["status"] == "pending" else job["status"])
        )
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
            status,
            100 if finished else min(99, stats["progress"]),
            stats["ok"],
            stats["failed"],
            list(stats["failed_ids"]),
            stats["errors"],
            statistics,
            finished,
            phase,
        )
        if finished:
            await bus.publish(
                JOB_COMPLETED,
                JobCompleted(
                    # Salted with the resumes: a resumed job completes again, as a new event.
                    event_id=uuid.uuid5(job_id, f"completed:{stats['epochs']}"),
                    job_id=job_id,
                    company_id=job["company_id"],
                    source="tracker",
                    status="completed_with_errors" if stats["failed"] else "completed",
                    successful_courses=stats["ok"],
                    failed_courses=stats["failed"],
                    failed_employee_ids=list(stats["failed_ids"]),
                ),
            )
