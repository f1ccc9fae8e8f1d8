"""A job's counters counted from scratch, from its runs and the recorded events alone: what the
tracker's counters must equal, whatever order the events came in."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from coursegen.shared.subjects import MODULE_STAGES

FROM_SCRATCH = """
WITH runs AS (
    SELECT r.session_id, r.status, r.modules_total,
           (SELECT count(DISTINCT (h.to_agent, h.module_index)) FROM cm_agent_handoffs h
             WHERE h.session_id = r.session_id AND h.subject LIKE 'coursegen.handoff.%'
               AND h.to_agent = ANY($2::text[])) AS steps,
           EXISTS (SELECT 1 FROM cm_agent_handoffs h WHERE h.session_id = r.session_id
                      AND h.subject IN ('coursegen.course.ready', 'coursegen.course.skipped')) AS closing
      FROM course_runs r WHERE r.job_id = $1
), scored AS (
    SELECT *, CASE WHEN status IN ('completed', 'no_gaps', 'failed', 'cancelled') THEN 100
                   WHEN coalesce(modules_total, 0) = 0 THEN 5
                   ELSE least(99, 10 + (85 * steps) / ($3 * modules_total)) END AS progress
      FROM runs
)
SELECT count(*) AS runs_total,
       count(*) FILTER (WHERE status IN ('completed', 'no_gaps', 'failed', 'cancelled')) AS runs_ended,
       count(*) FILTER (WHERE status IN ('failed', 'cancelled')
                           OR (status IN ('completed', 'no_gaps') AND closing)) AS runs_closed,
       count(*) FILTER (WHERE status = 'completed') AS successful,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'no_gaps') AS no_gaps,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
       coalesce(sum(progress), 0) AS progress_sum,
       coalesce(jsonb_object_agg(session_id, jsonb_build_array(steps, progress)), '{}') AS per_run
  FROM scored
"""

STORED = """
SELECT runs_total, runs_ended, runs_closed, successful_courses AS successful, failed_courses AS failed,
       runs_no_gaps AS no_gaps, runs_cancelled AS cancelled, progress_sum,
       (SELECT coalesce(jsonb_object_agg(session_id, jsonb_build_array(steps_done, progress_percentage)), '{}')
          FROM course_runs WHERE job_id = $1) AS per_run
  FROM course_generation_jobs WHERE job_id = $1
"""


async def recount(db: asyncpg.Pool[Any], job_id: uuid.UUID) -> dict[str, Any]:
    """Counters and each run's (steps, progress), counted from scratch."""
    row = await db.fetchrow(FROM_SCRATCH, job_id, list(MODULE_STAGES), len(MODULE_STAGES))
    assert row is not None
    return dict(row)


async def stored(db: asyncpg.Pool[Any], job_id: uuid.UUID) -> dict[str, Any]:
    """The counters as the store keeps them."""
    row = await db.fetchrow(STORED, job_id)
    assert row is not None
    return dict(row)
