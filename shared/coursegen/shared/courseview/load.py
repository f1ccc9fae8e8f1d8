"""Loading a course view from the store: the one way the app, the API and the CLI read a course to show it."""

from __future__ import annotations

import uuid

from coursegen.shared.courseview.model import DEFAULT_PASS_MARK, CourseView, NarrationAudio
from coursegen.shared.store import Connection
from coursegen.shared.store.courses import get_course
from coursegen.shared.store.narration import narration_audio


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
