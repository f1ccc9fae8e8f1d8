"""Assembled courses, read for showing and exporting them: the stored course and what it is made of.

Read-only: the finalizer writes ``assembled_courses``. A course of another
company is not found, the same as a course that does not exist.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from coursegen.shared.store._pool import Connection


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
    planned = {
        int(m.get("module_index", i)): m for i, m in enumerate(row["planned_modules"] or []) if isinstance(m, dict)
    }
    indexes = sorted(set(svgs) | set(planned))
    media = tuple(
        ModuleMedia(
            module_index=i,
            diagram_svg=svgs.get(i),
            skills=tuple(str(s) for s in planned.get(i, {}).get("skills", [])),
            objectives=tuple(str(o) for o in planned.get(i, {}).get("objectives", [])),
        )
        for i in indexes
    )
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


async def course_company(conn: Connection, course_id: uuid.UUID) -> uuid.UUID | None:
    """The company an assembled course belongs to (for operator tools that act on a course by its id alone)."""
    value = await conn.fetchval("SELECT company_id FROM assembled_courses WHERE course_id = $1", course_id)
    return value if isinstance(value, uuid.UUID) else None
