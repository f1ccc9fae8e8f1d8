"""Writing a job's assembled courses out as Markdown files, so they can be read with the stack stopped."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from coursegen.shared.store import Database, connect
from coursegen.shared.store.reports import CompanyHeadcount, companies_with_headcount, course_documents, find_job


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "course"


async def fetch_courses(database_url: str, job_id: uuid.UUID) -> list[tuple[str, str]]:
    """(employee name, course Markdown) of every assembled course of the job."""
    db = Database(await connect(database_url, min_size=1, max_size=1))
    try:
        async with db.connection() as conn:
            job = await find_job(conn, job_id)
            documents = [] if job is None else await course_documents(conn, job.company_id, job_id)
    finally:
        await db.close()
    return [(d.employee_name, d.markdown) for d in documents]


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


async def list_companies(database_url: str) -> list[CompanyHeadcount]:
    """Every company with its active employees, for telling the user what to submit."""
    db = Database(await connect(database_url, min_size=1, max_size=1))
    try:
        async with db.connection() as conn:
            return await companies_with_headcount(conn)
    finally:
        await db.close()
