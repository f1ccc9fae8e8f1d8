"""Writing a job's assembled courses out as Markdown files, so they can be read with the stack stopped."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from coursegen.shared.store import connect


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "course"


async def fetch_courses(database_url: str, job_id: uuid.UUID) -> list[tuple[str, str]]:
    """(employee name, course Markdown) of every assembled course of the job."""
    db = await connect(database_url, min_size=1, max_size=1)
    try:
        rows = await db.fetch(
            """
            SELECT coalesce(e.full_name, a.employee_id::text) AS employee_name, a.markdown
              FROM assembled_courses a LEFT JOIN employees e ON e.id = a.employee_id
             WHERE a.job_id = $1
             ORDER BY employee_name
            """,
            job_id,
        )
    finally:
        await db.close()
    return [(row["employee_name"], row["markdown"]) for row in rows]


def write_courses(courses: list[tuple[str, str]], dest: Path) -> list[Path]:
    """One ``<employee>.md`` per course in ``dest``."""
    if not courses:
        return []
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name, markdown in courses:
        path = dest / f"{_slug(name)}.md"
        path.write_text(markdown, encoding="utf-8")
        written.append(path)
    return written


async def list_companies(database_url: str) -> list[tuple[uuid.UUID, str, int]]:
    """(id, name, active employees) of every company, for telling the user what to submit."""
    db = await connect(database_url, min_size=1, max_size=1)
    try:
        rows = await db.fetch(
            """
            SELECT c.id, c.name, count(e.id) FILTER (WHERE e.is_active) AS employees
              FROM companies c LEFT JOIN employees e ON e.company_id = c.id
             GROUP BY c.id, c.name ORDER BY c.name
            """
        )
    finally:
        await db.close()
    return [(r["id"], r["name"], int(r["employees"])) for r in rows]
