"""Reading the stored artifacts of a course run: what the stages' tools hand their agents.

Each function reads one slice by reference, so an agent receives what it
needs and nothing of the conversations before it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from coursegen.shared.errors import InvalidData
from coursegen.shared.events import Handoff
from coursegen.shared.stage import Claim
from coursegen.shared.store import Executor

ARTIFACT_KEYS: dict[str, tuple[str, ...]] = {
    "cm_course_plans": ("session_id",),
    "research_findings": ("session_id", "module_index"),
    "cm_module_content": ("session_id", "module_index", "revision"),
    "quality_reports": ("session_id", "module_index", "revision"),
    "module_enhancements": ("session_id", "module_index"),
    "module_multimedia": ("session_id", "module_index"),
    "assembled_courses": ("session_id",),
}
"""Each artifact table and the unique key of what its rows are the result of."""


async def is_stored(db: Executor, table: str, h: Handoff) -> bool:
    """Is the artifact this handoff asks for stored already?"""
    key = ARTIFACT_KEYS[table]
    where = " AND ".join(f"{column} = ${i}" for i, column in enumerate(key, 1))
    return bool(await db.fetchval(f"SELECT 1 FROM {table} WHERE {where}", *(getattr(h, c) for c in key)))


def claim_unless_stored(table: str) -> Callable[[Executor, Handoff], Awaitable[Claim]]:
    """A stage's claim: run the agent unless its artifact is stored (then it costs nothing)."""

    async def claim(db: Executor, h: Handoff) -> Claim:
        return Claim.DONE if await is_stored(db, table, h) else Claim.RUN

    return claim


async def module_brief(db: Executor, session_id: str, module_index: int) -> dict[str, Any]:
    """The planned module: title, skills, objectives, queries, and who it is for."""
    row = await db.fetchrow(
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
    return {
        "course_title": row["course_title"],
        "target_role": row["target_role"],
        "position": row["position"],
        "total_modules": row["total_modules"],
        **row["module"],
    }


async def research(db: Executor, session_id: str, module_index: int) -> dict[str, Any]:
    row = await db.fetchrow(
        "SELECT summary, findings, sources FROM research_findings WHERE session_id = $1 AND module_index = $2",
        session_id,
        module_index,
    )
    if row is None:
        raise InvalidData(f"no research for session {session_id} module {module_index}")
    return dict(row)


SECTIONS = ("introduction", "core_content", "practical_applications", "case_studies", "assessments")


async def module_content(db: Executor, session_id: str, module_index: int, revision: int) -> dict[str, Any]:
    row = await db.fetchrow(
        f"""
        SELECT content_id, module_name, revision, {", ".join(SECTIONS)}, module_spec, total_word_count
          FROM cm_module_content WHERE session_id = $1 AND module_index = $2 AND revision = $3
        """,
        session_id,
        module_index,
        revision,
    )
    if row is None:
        raise InvalidData(f"no content for session {session_id} module {module_index} revision {revision}")
    return dict(row)


async def quality_report(db: Executor, session_id: str, module_index: int, revision: int) -> dict[str, Any] | None:
    row = await db.fetchrow(
        "SELECT score, passed, decision, rubric, feedback FROM quality_reports "
        "WHERE session_id = $1 AND module_index = $2 AND revision = $3",
        session_id,
        module_index,
        revision,
    )
    return dict(row) if row else None


async def final_revision(db: Executor, session_id: str, module_index: int) -> int:
    """The revision of a module that quality let through."""
    revision = await db.fetchval(
        "SELECT max(revision) FROM quality_reports "
        "WHERE session_id = $1 AND module_index = $2 AND decision <> 'revise'",
        session_id,
        module_index,
    )
    if revision is None:
        raise InvalidData(f"module {module_index} of session {session_id} has not passed quality")
    return int(revision)


async def approved_module(db: Executor, session_id: str, module_index: int) -> dict[str, Any]:
    """The module as quality let it through, with its brief: what the enrichment stages work from."""
    revision = await final_revision(db, session_id, module_index)
    draft = await module_content(db, session_id, module_index, revision)
    brief = await module_brief(db, session_id, module_index)
    return {
        "title": draft["module_name"],
        "revision": revision,
        "skills": brief["skills"],
        "objectives": brief["objectives"],
        "target_role": brief["target_role"],
        "duration_weeks": brief["duration_weeks"],
        "key_takeaways": draft["module_spec"].get("key_takeaways", []),
        "introduction": draft["introduction"],
        "core_content": draft["core_content"],
    }
