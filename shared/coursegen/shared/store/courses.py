"""Assembled courses (``assembled_courses``) and the finalizer's join (``finalizer_arrivals``).

The finalizer writes them; the app, the CLI and the exports read them. A course of
another company is not found, the same as a course that does not exist.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from coursegen.shared.store._pool import Connection


class NewCourse(BaseModel):
    model_config = ConfigDict(frozen=True)

    session_id: str
    job_id: uuid.UUID
    company_id: uuid.UUID
    employee_id: uuid.UUID
    title: str
    total_modules: int
    word_count: int
    course: dict[str, Any]
    markdown: str


class CourseSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    course_id: uuid.UUID
    title: str
    total_modules: int


class ModuleParts(BaseModel):
    """Everything stored about one module that passed quality: what the finalizer assembles."""

    model_config = ConfigDict(frozen=True, extra="allow")

    module_index: int
    module_name: str
    revision: int
    decision: str
    score: float
    introduction: str
    core_content: str
    practical_applications: str
    case_studies: str
    assessments: str
    module_spec: dict[str, Any]
    sources: list[dict[str, Any]]
    examples: list[dict[str, Any]]
    exercises: list[dict[str, Any]]
    quiz: list[dict[str, Any]]
    diagram_mermaid: str
    alt_text: str
    narration_script: str


async def mark_arrived(conn: Connection, session_id: str, module_index: int) -> None:
    """A module's lane reached the finalizer (committed before the join is judged)."""
    await conn.execute(
        "INSERT INTO finalizer_arrivals (session_id, module_index) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        session_id,
        module_index,
    )


async def arrived(conn: Connection, session_id: str) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM finalizer_arrivals WHERE session_id = $1", session_id)
    return count


async def replace_latest(
    conn: Connection, session_id: str, *, course: dict[str, Any], markdown: str, words: int
) -> None:
    """The run's latest assembly (a reworked version) replaces the seed-compatible row."""
    await conn.execute(
        "UPDATE assembled_courses SET course = $2, markdown = $3, word_count = $4 WHERE session_id = $1",
        session_id,
        course,
        markdown,
        words,
    )


async def course_of_run(conn: Connection, session_id: str) -> CourseSummary | None:
    row = await conn.fetchrow(
        "SELECT course_id, title, total_modules FROM assembled_courses WHERE session_id = $1", session_id
    )
    return CourseSummary.model_validate(dict(row)) if row else None


async def insert_course(conn: Connection, c: NewCourse) -> None:
    await conn.execute(
        """
        INSERT INTO assembled_courses (session_id, job_id, company_id, employee_id, title, total_modules,
                                       word_count, course, markdown)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        """,
        c.session_id,
        c.job_id,
        c.company_id,
        c.employee_id,
        c.title,
        c.total_modules,
        c.word_count,
        c.course,
        c.markdown,
    )


async def passed_modules(conn: Connection, session_id: str) -> list[ModuleParts]:
    """Every module of the run as quality let it through, joined with its research and enrichments.

    Of a module reworked after review, the latest revision that is fully enriched.
    """
    rows = await conn.fetch(
        """
        SELECT DISTINCT ON (c.module_index) c.module_index, c.module_name, c.revision, q.decision,
               q.score::float8 AS score,
               coalesce(c.introduction, '') AS introduction, coalesce(c.core_content, '') AS core_content,
               coalesce(c.practical_applications, '') AS practical_applications,
               coalesce(c.case_studies, '') AS case_studies, coalesce(c.assessments, '') AS assessments,
               c.module_spec, r.sources, e.examples, e.exercises, e.quiz,
               m.diagram_mermaid, m.alt_text, m.narration_script
          FROM quality_reports q
          JOIN cm_module_content c USING (session_id, module_index, revision)
          JOIN research_findings r USING (session_id, module_index)
          JOIN module_enhancements e USING (session_id, module_index, revision)
          JOIN module_multimedia m USING (session_id, module_index, revision)
         WHERE q.session_id = $1 AND q.decision <> 'revise'
         ORDER BY c.module_index, c.revision DESC
        """,
        session_id,
    )
    return [ModuleParts.model_validate(dict(r)) for r in rows]


class OutlineModule(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int
    title: str
    takeaways: list[str]
    passed_with_warning: bool


async def outline_modules(conn: Connection, session_id: str) -> list[OutlineModule]:
    """Each passed module's title and takeaways (never its text): what the finalizer's agent reads."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT ON (c.module_index) c.module_index, c.module_name,
               coalesce(c.module_spec -> 'key_takeaways', '[]') AS takeaways, q.decision
          FROM quality_reports q
          JOIN cm_module_content c USING (session_id, module_index, revision)
         WHERE q.session_id = $1 AND q.decision <> 'revise'
         ORDER BY c.module_index, c.revision DESC
        """,
        session_id,
    )
    return [
        OutlineModule(
            index=r["module_index"],
            title=r["module_name"],
            takeaways=r["takeaways"],
            passed_with_warning=r["decision"] == "pass_with_warning",
        )
        for r in rows
    ]


@dataclass(frozen=True)
class ModuleMedia:
    """What the course JSON leaves out of a module: its rendered diagram and what it was planned to close."""

    module_index: int
    diagram_svg: str | None = None
    skills: tuple[str, ...] = ()
    objectives: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoredCourse:
    course_id: uuid.UUID
    company_id: uuid.UUID
    employee_id: uuid.UUID
    job_id: uuid.UUID
    session_id: str
    title: str
    course: dict[str, Any]
    """The course JSON as the finalizer assembled it."""
    markdown: str
    created_at: dt.datetime
    media: tuple[ModuleMedia, ...] = field(default=())


_COURSE = """
SELECT a.course_id, a.company_id, a.employee_id, a.job_id, a.session_id, a.title, a.course, a.markdown, a.created_at,
       p.course_structure -> 'modules' AS planned_modules
  FROM assembled_courses a
  LEFT JOIN cm_course_plans p ON p.session_id = a.session_id AND p.company_id = a.company_id
 WHERE a.course_id = $1 AND a.company_id = $2
"""

_DIAGRAMS = """
SELECT m.module_index, m.diagram_svg
  FROM module_multimedia m JOIN assembled_courses a USING (session_id)
 WHERE a.course_id = $1 AND a.company_id = $2
 ORDER BY m.module_index
"""


async def get_course(conn: Connection, course_id: uuid.UUID, company_id: uuid.UUID) -> StoredCourse | None:
    """The assembled course, or None when there is none of that id in this company."""
    row = await conn.fetchrow(_COURSE, course_id, company_id)
    if row is None:
        return None
    svgs = {r["module_index"]: r["diagram_svg"] for r in await conn.fetch(_DIAGRAMS, course_id, company_id)}
    media = _media(svgs, row["planned_modules"])
    return StoredCourse(
        course_id=row["course_id"],
        company_id=row["company_id"],
        employee_id=row["employee_id"],
        job_id=row["job_id"],
        session_id=row["session_id"],
        title=row["title"],
        course=row["course"],
        markdown=row["markdown"],
        created_at=row["created_at"],
        media=media,
    )


def _media(svgs: dict[int, str], planned_modules: list[Any] | None) -> tuple[ModuleMedia, ...]:
    planned = {int(m.get("module_index", i)): m for i, m in enumerate(planned_modules or []) if isinstance(m, dict)}
    return tuple(
        ModuleMedia(
            module_index=i,
            diagram_svg=svgs.get(i),
            skills=tuple(str(s) for s in planned.get(i, {}).get("skills", [])),
            objectives=tuple(str(o) for o in planned.get(i, {}).get("objectives", [])),
        )
        for i in sorted(set(svgs) | set(planned))
    )


async def version_media(
    conn: Connection, company_id: uuid.UUID, session_id: str, course: dict[str, Any]
) -> tuple[ModuleMedia, ...]:
    """The media of one version of a course (its JSON ``course``, assembled from run ``session_id``): each module's
    diagram as rendered for the revision whose Mermaid source the version carries, or the newest one."""
    rows = await conn.fetch(
        """
        SELECT m.module_index, m.revision, m.diagram_mermaid, m.diagram_svg
          FROM module_multimedia m JOIN course_runs r ON r.session_id = m.session_id
         WHERE m.session_id = $1 AND r.company_id = $2
         ORDER BY m.module_index, m.revision
        """,
        session_id,
        company_id,
    )
    wanted = {m.get("index"): m.get("diagram_mermaid") for m in course.get("modules", []) if isinstance(m, dict)}
    svgs: dict[int, str] = {}
    matched: set[int] = set()
    for r in rows:
        index = r["module_index"]
        if index in matched:
            continue
        svgs[index] = r["diagram_svg"]
        if r["diagram_mermaid"] == wanted.get(index):
            matched.add(index)
    planned = await conn.fetchval(
        "SELECT course_structure -> 'modules' FROM cm_course_plans WHERE session_id = $1 AND company_id = $2",
        session_id,
        company_id,
    )
    return _media(svgs, planned)


async def course_company(conn: Connection, course_id: uuid.UUID) -> uuid.UUID | None:
    """The company an assembled course belongs to (for operator tools that act on a course by its id alone)."""
    value = await conn.fetchval("SELECT company_id FROM assembled_courses WHERE course_id = $1", course_id)
    return value if isinstance(value, uuid.UUID) else None
