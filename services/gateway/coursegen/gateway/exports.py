"""A course as a file for an LMS: the same export for the API and the app's download links."""

from __future__ import annotations

import urllib.parse
import uuid
from typing import Literal

from fastapi import Response

from coursegen.gateway.problems import Problem, not_found
from coursegen.shared.courseview import CourseDataError, load_course_view
from coursegen.shared.courseview.xapi import LrsSettings
from coursegen.shared.export import export_course
from coursegen.shared.store import Database


def _http_url(url: str | None) -> bool:
    parts = urllib.parse.urlsplit(url or "")
    return parts.scheme in ("http", "https") and bool(parts.netloc)


ExportFormat = Literal["scorm12", "scorm2004", "qti", "html"]


async def course_file(
    db: Database, company_id: uuid.UUID, course_id: uuid.UUID, fmt: ExportFormat, pass_mark: int
) -> Response:
    """The company's course in one format, as a download; another company's course is not found."""
    async with db.connection(company_id) as conn:
        try:
            view = await load_course_view(conn, course_id, company_id, pass_mark=pass_mark)
        except CourseDataError as exc:
            raise Problem(422, f"this course cannot be exported: {exc}", title="Unreadable course") from None
    if view is None:
        raise not_found("course")
    lrs = LrsSettings()
    if lrs.configured and not _http_url(lrs.url):
        # The server's setting is wrong, not the request: name the setting, never its value.
        detail = "exports are unavailable: COURSEGEN_LRS_URL is not an http(s) URL"
        raise Problem(503, detail, title="LRS misconfigured")
    try:
        exported = export_course(view, fmt, lrs=lrs if lrs.configured else None)
    except ValueError as exc:  # e.g. a QTI item bank of a course that has no quiz questions
        raise Problem(422, f"this course cannot be exported as {fmt}: {exc}", title="Nothing to export") from None
    return Response(
        exported.data,
        media_type=exported.media_type,
        headers={"Content-Disposition": f'attachment; filename="{exported.filename}"'},
    )
