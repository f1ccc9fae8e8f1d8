"""What the web app and the HTTP API read about jobs, course runs and courses, one company at a time.

Every function takes the caller's ``company_id`` and filters on it, so another
company's job or course is simply not found. A job that the coordinator has not
created yet (or refused) is still known from its recorded request event.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from coursegen.shared.store._pool import Connection


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class JobView(_Frozen):
    job_id: uuid.UUID
    status: str
    """pending, running, completed, completed_with_errors, failed, cancelled; or requested / rejected before
    the coordinator has created the job."""
    total_employees: int
    successful_courses: int
    failed_courses: int
    progress_percentage: int
    current_phase: str | None
    error_message: str | None
    failed_employee_ids: list[uuid.UUID]
    token_budget: int | None
    tokens_used: int
    created_at: datetime | None
    completed_at: datetime | None


class RunView(_Frozen):
    session_id: str
    employee_id: uuid.UUID
    employee_name: str
    status: str
    current_stage: str | None
    modules_total: int | None
    modules_done: int
    progress_percentage: int
    error_stage: str | None
    error_kind: str | None
    error_message: str | None
    tokens_used: int
    course_id: uuid.UUID | None


class CourseSummary(_Frozen):
    course_id: uuid.UUID
    job_id: uuid.UUID
    employee_id: uuid.UUID
    employee_name: str
    session_id: str
    title: str
    total_modules: int
    word_count: int
    created_at: datetime


class CourseRecord(CourseSummary):
    course: dict[str, Any]
    markdown: str


_JOB = """
SELECT j.job_id, j.status, j.total_employees, j.successful_courses, j.failed_courses, j.progress_percentage,
       j.current_phase, j.error_message, j.failed_employee_ids, j.created_at, j.completed_at,
       (j.job_config ->> 'token_budget')::bigint AS token_budget,
       coalesce((SELECT sum(r.input_tokens + r.output_tokens) FROM agent_runs r WHERE r.job_id = j.job_id), 0)
           AS tokens_used
  FROM course_generation_jobs j
 WHERE j.company_id = $1 {where}
"""


def _job(row: Any) -> JobView:
    data = dict(row)
    data["tokens_used"] = int(data["tokens_used"] or 0)
    data["failed_employee_ids"] = list(data["failed_employee_ids"] or [])
    return JobView(**data)


async def list_jobs(conn: Connection, company_id: uuid.UUID, *, limit: int, offset: int) -> tuple[list[JobView], int]:
    rows = await conn.fetch(
        _JOB.format(where="") + " ORDER BY j.created_at DESC, j.job_id LIMIT $2 OFFSET $3", company_id, limit, offset
    )
    total = await conn.fetchval("SELECT count(*) FROM course_generation_jobs WHERE company_id = $1", company_id)
    return [_job(r) for r in rows], int(total or 0)


async def get_job(conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> JobView | None:
    """The company's job; before the coordinator has created it, what its recorded request (or refusal) says."""
    row = await conn.fetchrow(_JOB.format(where="AND j.job_id = $2"), company_id, job_id)
    if row is not None:
        return _job(row)
    requested = await conn.fetchrow(
        "SELECT employees, token_budget, requested_at FROM gateway_job_requests WHERE company_id = $1 AND job_id = $2",
        company_id,
        job_id,
    )
    events = await conn.fetch(
        """
        SELECT subject, error_details, occurred_at, handoff_context FROM cm_agent_handoffs
         WHERE job_id = $2 AND company_id = $1 AND subject IN ('coursegen.job.requested', 'coursegen.job.rejected')
         ORDER BY occurred_at
        """,
        company_id,
        job_id,
    )
    if requested is None and not events:
        return None
    rejected = [e for e in events if e["subject"] == "coursegen.job.rejected"]
    request = next((e["handoff_context"] or {} for e in events if e["subject"] == "coursegen.job.requested"), {})
    return JobView(
        job_id=job_id,
        status="rejected" if rejected else "requested",
        total_employees=requested["employees"] if requested else len(request.get("employee_ids") or []),
        successful_courses=0,
        failed_courses=0,
        progress_percentage=0,
        current_phase=None,
        error_message=rejected[-1]["error_details"] if rejected else None,
        failed_employee_ids=[],
        token_budget=requested["token_budget"] if requested else request.get("token_budget"),
        tokens_used=0,
        created_at=requested["requested_at"] if requested else events[0]["occurred_at"],
        completed_at=rejected[-1]["occurred_at"] if rejected else None,
    )


async def job_runs(conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> list[RunView]:
    rows = await conn.fetch(
        """
        SELECT r.session_id, r.employee_id, coalesce(e.full_name, r.employee_id::text) AS employee_name, r.status,
               r.current_stage, r.modules_total, r.modules_done, r.progress_percentage, r.error_stage, r.error_kind,
               r.error_message, a.course_id,
               coalesce((SELECT sum(x.input_tokens + x.output_tokens) FROM agent_runs x
                          WHERE x.session_id = r.session_id), 0) AS tokens_used
          FROM course_runs r
          LEFT JOIN employees e ON e.id = r.employee_id AND e.company_id = r.company_id
          LEFT JOIN assembled_courses a ON a.session_id = r.session_id
         WHERE r.company_id = $1 AND r.job_id = $2
         ORDER BY employee_name, r.session_id
        """,
        company_id,
        job_id,
    )
    return [RunView(**{**dict(r), "tokens_used": int(r["tokens_used"] or 0)}) for r in rows]


async def stages_done(conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> dict[str, dict[str, int]]:
    """Per course run, how many successful agent runs each stage has stored."""
    rows = await conn.fetch(
        """
        SELECT a.session_id, a.stage, count(*) AS n
          FROM agent_runs a JOIN course_runs r ON r.session_id = a.session_id
         WHERE r.company_id = $1 AND r.job_id = $2 AND a.status = 'succeeded'
         GROUP BY a.session_id, a.stage
        """,
        company_id,
        job_id,
    )
    done: dict[str, dict[str, int]] = {}
    for r in rows:
        done.setdefault(r["session_id"], {})[r["stage"]] = int(r["n"])
    return done


_COURSE_COLUMNS = """
a.course_id, a.job_id, a.employee_id, coalesce(e.full_name, a.employee_id::text) AS employee_name, a.session_id,
a.title, a.total_modules, a.word_count, a.created_at
"""


async def list_courses(
    conn: Connection,
    company_id: uuid.UUID,
    *,
    job_id: uuid.UUID | None = None,
    employee_id: uuid.UUID | None = None,
    limit: int,
    offset: int,
) -> tuple[list[CourseSummary], int]:
    where = "a.company_id = $1 AND ($2::uuid IS NULL OR a.job_id = $2) AND ($3::uuid IS NULL OR a.employee_id = $3)"
    rows = await conn.fetch(
        f"SELECT {_COURSE_COLUMNS} FROM assembled_courses a LEFT JOIN employees e ON e.id = a.employee_id "
        f"WHERE {where} ORDER BY a.created_at DESC, a.course_id LIMIT $4 OFFSET $5",
        company_id,
        job_id,
        employee_id,
        limit,
        offset,
    )
    total = await conn.fetchval(
        f"SELECT count(*) FROM assembled_courses a WHERE {where}", company_id, job_id, employee_id
    )
    return [CourseSummary(**dict(r)) for r in rows], int(total or 0)


async def get_course(conn: Connection, company_id: uuid.UUID, course_id: uuid.UUID) -> CourseRecord | None:
    row = await conn.fetchrow(
        f"SELECT {_COURSE_COLUMNS}, a.course, a.markdown FROM assembled_courses a "
        "LEFT JOIN employees e ON e.id = a.employee_id WHERE a.company_id = $1 AND a.course_id = $2",
        company_id,
        course_id,
    )
    return CourseRecord(**dict(row)) if row else None


async def job_belongs(conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM course_generation_jobs WHERE company_id = $1 AND job_id = $2", company_id, job_id
    )
    return bool(found)


async def job_events_since(
    conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID, *, after: datetime | None, limit: int = 500
) -> list[dict[str, Any]]:
    """The job's recorded events in order (for a reconnecting event stream): subject, ids, when."""
    rows = await conn.fetch(
        """
        SELECT event_id, subject, session_id, module_index, from_agent, to_agent, success, error_details,
               coalesce(occurred_at, handoff_timestamp) AS at
          FROM cm_agent_handoffs
         WHERE company_id = $1 AND job_id = $2
           AND ($3::timestamptz IS NULL OR coalesce(occurred_at, handoff_timestamp) > $3)
         ORDER BY at, event_id
         LIMIT $4
        """,
        company_id,
        job_id,
        after,
        limit,
    )
    return [dict(r) for r in rows]


class OutlineWaiting(_Frozen):
    """A course run waiting for a person to approve its outline."""

    session_id: str
    job_id: uuid.UUID
    employee_id: uuid.UUID
    employee_name: str
    course_title: str
    modules: int
    revision: int
    since: datetime


async def outlines_waiting(conn: Connection, company_id: uuid.UUID, *, limit: int = 200) -> list[OutlineWaiting]:
    """The company's course runs whose outline waits for review, oldest first."""
    rows = await conn.fetch(
        """
        SELECT r.session_id, r.job_id, r.employee_id, coalesce(e.full_name, r.employee_id::text) AS employee_name,
               coalesce(p.course_title, '') AS course_title, coalesce(p.total_modules, 0) AS modules,
               coalesce(p.revision, 0) AS revision, r.updated_at AS since
          FROM course_runs r
          JOIN cm_course_plans p ON p.session_id = r.session_id AND p.company_id = r.company_id
          LEFT JOIN employees e ON e.id = r.employee_id AND e.company_id = r.company_id
         WHERE r.company_id = $1 AND r.status = 'awaiting_outline_review'
         ORDER BY r.updated_at, r.session_id
         LIMIT $2
        """,
        company_id,
        limit,
    )
    return [OutlineWaiting.model_validate(dict(r)) for r in rows]
