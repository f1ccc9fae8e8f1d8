"""Loading a course view from the store: the one way the app, the API and the CLI read a course to show it."""

from __future__ import annotations

import uuid
from typing import Any

from coursegen.shared.courseview.model import DEFAULT_PASS_MARK, CourseView, NarrationAudio
from coursegen.shared.store import Connection
from coursegen.shared.store.courses import get_course, version_media
from coursegen.shared.store.narration import narration_audio
from coursegen.shared.store.versions import Version


async def load_course_view(
    conn: Connection, course_id: uuid.UUID, company_id: uuid.UUID, *, pass_mark: int = DEFAULT_PASS_MARK
) -> CourseView | None:
    """The company's assembled course as a view; None when it has no such course (missing, or another company's).

    Raises ``CourseDataError`` when the stored course cannot be shown.
    """
    stored = await get_course(conn, course_id, company_id)
    if stored is None:
        return None
    clips = await narration_audio(conn, stored.session_id, company_id)
    audio = {i: NarrationAudio(mime=c.mime, data=c.audio) for i, c in clips.items()}
    return CourseView.from_stored(stored, audio=audio, pass_mark=pass_mark)


async def load_version_view(conn: Connection, version: Version, *, pass_mark: int = DEFAULT_PASS_MARK) -> CourseView:
    """One version of a company's course as a view (a draft under review, or what learners see).

    Raises ``CourseDataError`` when the stored version cannot be shown.
    """
    media = await version_media(conn, version.company_id, version.session_id, version.course)
    by_index: dict[int, dict[str, Any]] = {
        m.module_index: {"diagram_svg": m.diagram_svg, "skills": m.skills} for m in media
    }
    return CourseView.from_json(version.course, course_id=version.course_id, media=by_index, pass_mark=pass_mark)
