"""Read views of a job for people: its state and runs, a rejection, the trace waterfall, exports, spend.

Nothing here writes. A job is found by its id; every read after that is
scoped to the company stored on the job (``company_id`` from ``find_job`` or
``job_state``), so a view never mixes in another company's rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from coursegen.shared.store._pool import Connection
from coursegen.shared.store.jobs import ENDED_JOB_STATUSES
from coursegen.shared.store.runs import ENDED_RUN_STATUSES
from coursegen.shared.subjects import JOB_REJECTED

TERMINAL_JOB_STATUSES = frozenset(str(s) for s in ENDED_JOB_STATUSES)
TERMINAL_RUN_STATUSES = frozenset(str(s) for s in ENDED_RUN_STATUSES)

# Rows of tables without a company column (agent runs, handoffs) belong to the company of their job.
_OF_COMPANY_JOB = (
    "EXISTS (SELECT 1 FROM course_generation_jobs j WHERE j.job_id = {alias}.job_id AND j.company_id = $2)"
)


# --- the job -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobRef:
    """A job's identity: whose it is, and where it stands."""

    job_id: uuid.UUID
    company_id: uuid.UUID
    status: str


async def find_job(conn: Connection, job_id: uuid.UUID) -> JobRef | None:
    row = await conn.fetchrow("SELECT job_id, company_id, status FROM course_generation_jobs WHERE job_id = $1", job_id)
    return JobRef(row["job_id"], row["company_id"], row["status"]) if row else None


@dataclass(frozen=True)
class RunState:
    """One course run (one employee in the job) as stored."""

    session_id: str
    employee_id: uuid.UUID
    employee_name: str
    status: str
    current_stage: str | None
    progress_percentage: int
    modules_total: int | None
    modules_done: int
    error_stage: str | None
    error_kind: str | None
    error_message: str | None
    started_at: datetime | None
    completed_at: datetime | None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_RUN_STATUSES


@dataclass(frozen=True)
class JobState:
    """The job row and its course runs."""

    job_id: uuid.UUID
    company_id: uuid.UUID
    status: str
    current_phase: str | None
    progress_percentage: int
    total_employees: int
    successful_courses: int
    failed_courses: int
    error_message: str | None
    failed_employee_ids: list[uuid.UUID]
    job_config: dict[str, Any]
    statistics: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    runs: list[RunState] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_JOB_STATUSES


async def job_state(conn: Connection, job_id: uuid.UUID) -> JobState | None:
    """The job and its course runs, or None when no such job exists (yet)."""
    row = await conn.fetchrow(
        """
        SELECT job_id, company_id, status, current_phase, progress_percentage, total_employees,
               successful_courses, failed_courses, error_message, failed_employee_ids, job_config,
               statistics, created_at, started_at, completed_at
          FROM course_generation_jobs WHERE job_id = $1
        """,
        job_id,
    )
    if row is None:
        return None
    job = dict(row)
    job["failed_employee_ids"] = list(job["failed_employee_ids"] or [])
    job["job_config"] = job["job_config"] or {}
    job["statistics"] = job["statistics"] or {}
    return JobState(**job, runs=await course_run_states(conn, row["company_id"], job_id))


async def course_run_states(conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> list[RunState]:
    """The job's course runs, by employee name."""
    rows = await conn.fetch(
        """
        SELECT r.session_id, r.employee_id, coalesce(e.full_name, r.employee_id::text) AS employee_name,
               r.status, r.current_stage, r.progress_percentage, r.modules_total, r.modules_done,
               r.error_stage, r.error_kind, r.error_message, r.started_at, r.completed_at
          FROM course_runs r LEFT JOIN employees e ON e.id = r.employee_id AND e.company_id = r.company_id
         WHERE r.job_id = $1 AND r.company_id = $2
         ORDER BY employee_name, r.employee_id
        """,
        job_id,
        company_id,
    )
    return [RunState(**dict(r)) for r in rows]


async def rejection_reason(
    conn: Connection, job_id: uuid.UUID, request_event_id: uuid.UUID | None = None
) -> str | None:
    """The coordinator's reason for refusing a request, once the tracker has recorded it.

    A refused request has no job row to take a company from: the lookup is by
    the request's own event id (or the job id it asked for), which only its
    sender knows, and the reason never says whether another company's ids exist.
    """
    reason: str | None = await conn.fetchval(
        """
        SELECT coalesce(handoff_context->>'reason', error_details, 'rejected')
          FROM cm_agent_handoffs
         WHERE subject = $1
           AND (handoff_context->>'request_event_id' = $2 OR ($2 IS NULL AND job_id = $3))
         ORDER BY handoff_timestamp DESC
         LIMIT 1
        """,
        JOB_REJECTED,
        str(request_event_id) if request_event_id else None,
        job_id,
    )
    return reason


@dataclass(frozen=True)
class JobOutputCounts:
    courses: int
    """Assembled courses of the job."""
    modules: int
    """Modules in those courses."""
    handoffs: int
    """Events the tracker recorded for the job."""


async def job_output_counts(conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> JobOutputCounts:
    row = await conn.fetchrow(
        f"""
        SELECT (SELECT count(*) FROM assembled_courses WHERE company_id = $2 AND job_id = $1) AS courses,
               (SELECT coalesce(sum(total_modules), 0) FROM assembled_courses
                 WHERE company_id = $2 AND job_id = $1) AS modules,
               (SELECT count(*) FROM cm_agent_handoffs h
                 WHERE h.job_id = $1 AND {_OF_COMPANY_JOB.format(alias="h")}) AS handoffs
        """,
        job_id,
        company_id,
    )
    assert row is not None
    return JobOutputCounts(int(row["courses"]), int(row["modules"]), int(row["handoffs"]))


# --- the trace waterfall -------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseDocument:
    employee_name: str
    """The employee's name, or their id when the employee is gone."""
    markdown: str


async def course_documents(conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> list[CourseDocument]:
    """The Markdown of every assembled course of the job, by employee name."""
    rows = await conn.fetch(
        """
        SELECT coalesce(e.full_name, a.employee_id::text) AS employee_name, a.markdown
          FROM assembled_courses a LEFT JOIN employees e ON e.id = a.employee_id AND e.company_id = a.company_id
         WHERE a.job_id = $1 AND a.company_id = $2
         ORDER BY employee_name
        """,
        job_id,
        company_id,
    )
    return [CourseDocument(r["employee_name"], r["markdown"]) for r in rows]


@dataclass(frozen=True)
class CompanyHeadcount:
    company_id: uuid.UUID
    name: str
    active_employees: int


async def companies_with_headcount(conn: Connection) -> list[CompanyHeadcount]:
    """Every company and its active employees, by name: what an operator of the stack may submit for."""
    rows = await conn.fetch(
        """
        SELECT c.id, c.name, count(e.id) FILTER (WHERE e.is_active) AS employees
          FROM companies c LEFT JOIN employees e ON e.company_id = c.id
         GROUP BY c.id, c.name ORDER BY c.name
        """
    )
    return [CompanyHeadcount(r["id"], r["name"], int(r["employees"])) for r in rows]


# --- spend (for coursegen.shared.accounting) -----------------------------------------------------


@dataclass(frozen=True)
class CourseRunOfJob:
    session_id: str
    employee_id: uuid.UUID
    employee_name: str | None
    status: str


async def course_runs_of_job(conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> list[CourseRunOfJob]:
    """The job's course runs with their employee's name, by name."""
    rows = await conn.fetch(
        """
        SELECT c.session_id, c.employee_id, c.status, e.full_name
          FROM course_runs c LEFT JOIN employees e ON e.id = c.employee_id AND e.company_id = c.company_id
         WHERE c.job_id = $1 AND c.company_id = $2
         ORDER BY e.full_name, c.session_id
        """,
        job_id,
        company_id,
    )
    return [CourseRunOfJob(r["session_id"], r["employee_id"], r["full_name"], r["status"]) for r in rows]


@dataclass(frozen=True)
class AgentRunUsage:
    """What one agent run spent."""

    session_id: str
    stage: str
    model: str
    status: str
    """succeeded, discarded (another delivery stored the same work first) or failed."""
    input_tokens: int
    output_tokens: int
    turns: int
    transcript_tokens: int
    duration_ms: int
    instruction_tokens: int = 0
    """Of ``input_tokens``: the instructions, every turn."""
    schema_tokens: int = 0
    """Of ``input_tokens``: tool definitions and the output schema, every turn."""
    tool_result_tokens: int = 0
    """Of ``input_tokens``: what the tools returned."""
    repeat_tokens: int = 0
    """Of ``input_tokens``: what a later turn sent again."""


async def agent_run_usage(conn: Connection, company_id: uuid.UUID, job_id: uuid.UUID) -> list[AgentRunUsage]:
    """Every agent run of the job, in the order they were stored."""
    rows = await conn.fetch(
        f"""
        SELECT a.session_id, a.stage, a.model, a.status, a.input_tokens, a.output_tokens, a.turns,
               a.transcript_tokens, a.duration_ms, a.instruction_tokens, a.schema_tokens, a.tool_result_tokens,
               a.repeat_tokens
          FROM agent_runs a
         WHERE a.job_id = $1 AND {_OF_COMPANY_JOB.format(alias="a")}
         ORDER BY a.created_at, a.run_id
        """,
        job_id,
        company_id,
    )
    return [AgentRunUsage(**dict(r)) for r in rows]
