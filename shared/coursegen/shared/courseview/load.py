"""Loading a course view from the store: the one way the app, the API and the CLI read a course to show it."""

from __future__ import annotations

import uuid

from coursegen.shared.courseview.model import DEFAULT_PASS_MARK, CourseView
from coursegen.shared.store import Connection
from coursegen.shared.store.courses import get_course


async def load_course_view(
    conn: Connection, course_id: uuid.UUID, company_id: uuid.UUID, *, pass_mark: int = DEFAULT_PASS_MARK
) -> CourseView | None:
    """The company's assembled course as a view; None when it has no such course (missing, or another company's).

    Raises ``CourseDataError`` when the stored course cannot be shown.
    """
    stored = await get_course(conn, course_id, company_id)
    if stored is None:
        return None
    return CourseView.from_stored(stored, pass_mark=pass_mark)
