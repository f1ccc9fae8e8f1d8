"""Course plans (``cm_course_plans``, the seed's table): the planner's output, one per course run.

The row holds the run's current plan: a re-plan after a rejected outline replaces it
with a higher ``revision``, and an approved (possibly edited) outline is written into it.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict

from coursegen.shared.errors import InvalidData
from coursegen.shared.store._pool import Connection


class NewPlan(BaseModel):
    """A plan as the planner stores it."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    job_id: uuid.UUID
    company_id: uuid.UUID
    employee_id: uuid.UUID
    employee_name: str
    employee_profile: dict[str, Any]
    course_title: str
    summary: str
    modules: list[dict[str, Any]]
    """Each planned module with its ``module_index``."""
    prioritized_gaps: list[dict[str, Any]]
    course_duration_weeks: int
    tool_calls: list[str]
    execution_time_seconds: float
    agent_turns: int
    revision: int = 0
    """0 for the first plan; the review round of a re-plan."""


class ModuleBrief(BaseModel):
    """One planned module and who it is for: what the per-module stages work from."""

    model_config = ConfigDict(frozen=True, extra="allow")

    course_title: str
    target_role: str | None
    position: str | None
    total_modules: int
    module_index: int
    title: str
    skills: list[str]
    objectives: list[str]
    duration_weeks: int
    prerequisites: list[int] = []
    research_queries: list[str] = []
    priority: str = "medium"


class StoredPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    session_id: str
    employee_name: str
    course_title: str
    summary: str
    modules: list[dict[str, Any]]
    prioritized_gaps: list[dict[str, Any]]
    learning_path: list[dict[str, Any]]
    employee_profile: dict[str, Any]
    total_modules: int
    course_duration_weeks: int
    revision: int = 0
    approved: bool = False


def _learning_path(modules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "step": m["module_index"] + 1,
            "module_index": m["module_index"],
            "title": m["title"],
            "weeks": m["duration_weeks"],
            "prerequisites": m["prerequisites"],
        }
        for m in modules
    ]


async def insert_plan(conn: Connection, plan: NewPlan) -> None:
    await conn.execute(
        """
        INSERT INTO cm_course_plans (employee_id, employee_name, session_id, job_id, company_id, course_structure,
                                     prioritized_gaps, research_strategy, learning_path, employee_profile,
                                     total_modules, course_duration_weeks, course_title, tool_calls,
                                     execution_time_seconds, agent_turns, revision)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb[], $15, $16, $17)
        ON CONFLICT (session_id) DO UPDATE
           SET course_structure = EXCLUDED.course_structure, prioritized_gaps = EXCLUDED.prioritized_gaps,
               research_strategy = EXCLUDED.research_strategy, learning_path = EXCLUDED.learning_path,
               total_modules = EXCLUDED.total_modules, course_duration_weeks = EXCLUDED.course_duration_weeks,
               course_title = EXCLUDED.course_title, tool_calls = EXCLUDED.tool_calls,
               execution_time_seconds = EXCLUDED.execution_time_seconds, agent_turns = EXCLUDED.agent_turns,
               revision = EXCLUDED.revision, approved_at = NULL, approved_by = NULL
         WHERE cm_course_plans.revision < EXCLUDED.revision
        """,
        plan.employee_id,
        plan.employee_name,
        plan.session_id,
        plan.job_id,
        plan.company_id,
        {"summary": plan.summary, "modules": plan.modules},
        plan.prioritized_gaps,
        {"modules": [{"module_index": m["module_index"], "queries": m["research_queries"]} for m in plan.modules]},
        _learning_path(plan.modules),
        plan.employee_profile,
        len(plan.modules),
        plan.course_duration_weeks,
        plan.course_title,
        [{"tool": name} for name in plan.tool_calls],
        round(plan.execution_time_seconds, 3),
        plan.agent_turns,
        plan.revision,
    )


async def plan_exists(conn: Connection, session_id: str, revision: int = 0) -> bool:
    """A plan of this revision (or a later one) is stored."""
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM cm_course_plans WHERE session_id = $1 AND revision >= $2", session_id, revision
        )
    )


async def approve_outline(
    conn: Connection, session_id: str, *, modules: list[dict[str, Any]] | None, approved_by: str
) -> int:
    """Approve the current plan, with the reviewer's outline when given; returns its module count."""
    if modules is not None:
        numbered = [{**m, "module_index": i} for i, m in enumerate(modules)]
        total: int | None = await conn.fetchval(
            """
            UPDATE cm_course_plans
               SET course_structure = jsonb_set(course_structure, '{modules}', $2::jsonb),
                   research_strategy = $3, learning_path = $4, total_modules = $5, course_duration_weeks = $6,
                   approved_at = now(), approved_by = $7
             WHERE session_id = $1
            RETURNING total_modules
            """,
            session_id,
            numbered,
            {"modules": [{"module_index": m["module_index"], "queries": m["research_queries"]} for m in numbered]},
            _learning_path(numbered),
            len(numbered),
            sum(int(m["duration_weeks"]) for m in numbered),
            approved_by,
        )
    else:
        total = await conn.fetchval(
            "UPDATE cm_course_plans SET approved_at = now(), approved_by = $2 WHERE session_id = $1 "
            "RETURNING total_modules",
            session_id,
            approved_by,
        )
    if total is None:
        raise InvalidData(f"no course plan for session {session_id}")
    return total


async def plan_state(conn: Connection, session_id: str) -> tuple[int, bool] | None:
    """(revision, approved) of the run's current plan; None when there is none."""
    row = await conn.fetchrow(
        "SELECT revision, approved_at IS NOT NULL AS approved FROM cm_course_plans WHERE session_id = $1", session_id
    )
    return (int(row["revision"]), bool(row["approved"])) if row else None


async def total_modules(conn: Connection, session_id: str) -> int | None:
    """How many modules the stored plan has; None when there is no plan."""
    total: int | None = await conn.fetchval(
        "SELECT total_modules FROM cm_course_plans WHERE session_id = $1", session_id
    )
    return total


async def get_plan(conn: Connection, session_id: str) -> StoredPlan:
    row = await conn.fetchrow(
        """
        SELECT session_id, employee_name, course_title, course_structure, prioritized_gaps, learning_path,
               employee_profile, total_modules, course_duration_weeks, revision, approved_at IS NOT NULL AS approved
          FROM cm_course_plans WHERE session_id = $1
        """,
        session_id,
    )
    if row is None:
        raise InvalidData(f"no course plan for session {session_id}")
    return StoredPlan(
        session_id=row["session_id"],
        employee_name=row["employee_name"],
        course_title=row["course_title"] or "",
        summary=row["course_structure"].get("summary", ""),
        modules=row["course_structure"].get("modules", []),
        prioritized_gaps=row["prioritized_gaps"] or [],
        learning_path=row["learning_path"] or [],
        employee_profile=row["employee_profile"] or {},
        total_modules=row["total_modules"] or 0,
        course_duration_weeks=row["course_duration_weeks"] or 0,
        revision=row["revision"],
        approved=row["approved"],
    )


async def module_brief(conn: Connection, session_id: str, module_index: int) -> ModuleBrief:
    """The planned module: title, skills, objectives, queries, and who it is for."""
    row = await conn.fetchrow(
        """
        SELECT p.course_title, p.course_structure -> 'modules' -> $2::int AS module,
               p.employee_profile ->> 'target_role' AS target_role,
               p.employee_profile ->> 'position' AS position, p.total_modules
          FROM cm_course_plans p WHERE p.session_id = $1
        """,
        session_id,
        module_index,
    )
    if row is None:
        raise InvalidData(f"no course plan for session {session_id}")
    if row["module"] is None:
        raise InvalidData(f"the plan of session {session_id} has no module {module_index}")
    return ModuleBrief.model_validate(
        {
            "course_title": row["course_title"],
            "target_role": row["target_role"],
            "position": row["position"],
            "total_modules": row["total_modules"],
            **row["module"],
        }
    )
