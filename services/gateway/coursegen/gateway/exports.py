"""A course as a file for an LMS: the same export for the API and the app's download links."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import Response

from coursegen.gateway.problems import Problem, not_found
from coursegen.shared.courseview import CourseDataError, load_course_view
from coursegen.shared.courseview.xapi import LrsSettings
from coursegen.shared.export import export_course
from coursegen.shared.store import Database

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
    exported = export_course(view, fmt, lrs=lrs if lrs.configured else None)
    return Response(
        exported.data,
        media_type=exported.media_type,
        headers={"Content-Disposition": f'attachment; filename="{exported.filename}"'},
    )
