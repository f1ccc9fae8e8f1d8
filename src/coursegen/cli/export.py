"""``coursegen export COURSE --format F``: a course as a SCORM 1.2 or 2004 package, a QTI item bank or one HTML file."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Annotated

import asyncpg
import typer

from coursegen.cli._common import EXIT_USAGE, fail, out, parse_uuid, read_settings, require
from coursegen.shared.courseview import DEFAULT_PASS_MARK, CourseDataError, CourseView, load_course_view
from coursegen.shared.courseview.xapi import LrsSettings
from coursegen.shared.export import FORMATS, Export, export_course
from coursegen.shared.store import Database, connect
from coursegen.shared.store.courses import course_company


async def _load(
    database_url: str, course_id: uuid.UUID, company_id: uuid.UUID | None, pass_mark: int
) -> CourseView | None:
    db = Database(await connect(database_url, min_size=1, max_size=1))
    try:
        async with db.connection() as conn:
            if company_id is None:
                # An operator naming a course by its id alone: the course's own company scopes the read.
                company_id = await course_company(conn, course_id)
                if company_id is None:
                    return None
            return await load_course_view(conn, course_id, company_id, pass_mark=pass_mark)
    finally:
        await db.close()


def _destination(out_path: Path | None, exported: Export) -> Path:
    if out_path is None:
        return Path.cwd() / exported.filename
    if out_path.is_dir():
        return out_path / exported.filename
    return out_path


def export(
    course: Annotated[uuid.UUID, typer.Argument(parser=parse_uuid, help="The assembled course's id.")],
    format: Annotated[str, typer.Option("--format", "-f", help=f"One of: {', '.join(FORMATS)}.")],
    out_path: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="File or folder to write (default: a file named after the course)."),
    ] = None,
    company: Annotated[
        uuid.UUID | None,
        typer.Option(parser=parse_uuid, help="Only export if the course belongs to this company."),
    ] = None,
    pass_mark: Annotated[
        int, typer.Option(min=0, max=100, help="Percent of quiz questions to get right to pass (the mastery score).")
    ] = DEFAULT_PASS_MARK,
) -> None:
    """Export an assembled course for an LMS (SCORM 1.2, SCORM 2004, QTI) or as one offline HTML file.

    With COURSEGEN_LRS_URL, COURSEGEN_LRS_USERNAME and COURSEGEN_LRS_PASSWORD set, the players also send
    xAPI statements to that LRS.
    """
    if format not in FORMATS:
        fail(f"unknown export format {format!r}: use one of {', '.join(FORMATS)}", EXIT_USAGE)
    settings = read_settings()
    require(settings, "database_url")
    assert settings.database_url
    try:
        view = asyncio.run(_load(settings.database_url, course, company, pass_mark))
    except (OSError, asyncpg.PostgresError) as exc:
        fail(f"cannot read the course from the database: {exc}")
    except CourseDataError as exc:
        fail(f"course {course} cannot be exported: {exc}")
    if view is None:
        where = f" of company {company}" if company else ""
        fail(f"no assembled course {course}{where} (it does not exist, or is not assembled yet)", EXIT_USAGE)
    try:
        lrs = LrsSettings()
        exported = export_course(view, format, lrs=lrs if lrs.configured else None)
    except ValueError as exc:
        fail(f"course {course} cannot be exported as {format}: {exc}", EXIT_USAGE)
    dest = _destination(out_path, exported)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(exported.data)
    except OSError as exc:
        fail(f"cannot write {dest}: {exc}")
    out().print(f"{dest} ({format}, {len(exported.data):,} bytes)")
