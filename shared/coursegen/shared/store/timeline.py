"""A job's handoffs as a timeline per course run: what ``coursegen trace`` and the app's trace view show.

Read for one company: another company's job has no timeline.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from coursegen.shared.store._pool import Connection

_ROWS = """
WITH h AS (
    SELECT h.session_id, h.to_agent AS stage, h.module_index, coalesce(h.revision, 0) AS revision,
           coalesce((h.handoff_context ->> 'epoch')::int, 0) AS epoch, h.occurred_at, h.trace_id,
           row_number() OVER (PARTITION BY h.session_id, h.to_agent, h.module_index, coalesce(h.revision, 0)
                              ORDER BY h.occurred_at) AS nth
      FROM cm_agent_handoffs h
     WHERE h.job_id = $1 AND h.subject LIKE 'coursegen.handoff.%' AND h.session_id IS NOT NULL
)
SELECT h.session_id, h.stage, h.module_index, h.revision, h.epoch, h.occurred_at, h.trace_id,
       (SELECT min(n.occurred_at) FROM cm_agent_handoffs n
         WHERE n.session_id = h.session_id AND n.from_agent = h.stage AND n.occurred_at >= h.occurred_at
           AND (h.module_index IS NULL OR n.module_index = h.module_index)) AS handed_on_at,
       r.created_at AS stored_at, r.input_tokens, r.output_tokens
  FROM h
  LEFT JOIN agent_runs r
         ON h.nth = 1 AND r.session_id = h.session_id AND r.stage = h.stage
        AND r.module_index = coalesce(h.module_index, -1) AND r.revision = h.revision AND r.status = 'succeeded'
 ORDER BY h.session_id, h.occurred_at, h.module_index NULLS FIRST
"""

_COURSES = """
SELECT r.session_id, r.status, r.modules_total, r.error_stage, r.error_message, e.full_name
  FROM course_runs r LEFT JOIN employees e ON e.id = r.employee_id
 WHERE r.job_id = $1
 ORDER BY r.started_at, r.session_id
"""


@dataclass(frozen=True)
class Step:
    """One handoff to a stage, and how long until that stage handed on."""

    stage: str
    module_index: int | None
    revision: int
    epoch: int
    started_at: datetime
    ended_at: datetime | None
    input_tokens: int | None
    output_tokens: int | None
    trace_id: str | None

    @property
    def seconds(self) -> float | None:
        return None if self.ended_at is None else max(0.0, (self.ended_at - self.started_at).total_seconds())


@dataclass
class CourseTimeline:
    session_id: str
    employee_name: str
    status: str
    modules_total: int | None
    error: str | None
    steps: list[Step] = field(default_factory=list)

    @property
    def trace_ids(self) -> list[str]:
        """The course's traces, oldest first (a resume starts a new one)."""
        return list(dict.fromkeys(s.trace_id for s in self.steps if s.trace_id))

    @property
    def tokens(self) -> tuple[int, int]:
        return sum(s.input_tokens or 0 for s in self.steps), sum(s.output_tokens or 0 for s in self.steps)


@dataclass
class JobTimeline:
    job_id: uuid.UUID
    status: str
    courses: list[CourseTimeline]


async def load_timeline(db: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> JobTimeline | None:
    job = await db.fetchrow(
        "SELECT status FROM course_generation_jobs WHERE job_id = $1 AND company_id = $2", job_id, company_id
    )
    if job is None:
        return None
    courses = {
        r["session_id"]: CourseTimeline(
            session_id=r["session_id"],
            employee_name=r["full_name"] or "?",
            status=r["status"],
            modules_total=r["modules_total"],
            error=f"{r['error_stage']}: {r['error_message']}" if r["error_message"] else None,
        )
        for r in await db.fetch(_COURSES, job_id)
    }
    for row in await db.fetch(_ROWS, job_id):
        course = courses.get(row["session_id"])
        if course is None:
            continue
        course.steps.append(_step(row))
    return JobTimeline(job_id=job_id, status=job["status"], courses=list(courses.values()))


def _step(row: Any) -> Step:
    return Step(
        stage=row["stage"],
        module_index=row["module_index"],
        revision=row["revision"],
        epoch=row["epoch"],
        started_at=row["occurred_at"],
        ended_at=row["handed_on_at"] or row["stored_at"],
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        trace_id=row["trace_id"],
    )
