"""The multimedia stage's narration step: the module's script spoken and stored, or a note that it could not be."""

from __future__ import annotations

import logging

from coursegen.shared.errors import RetryableError
from coursegen.shared.events import Handoff
from coursegen.shared.speech import SpeechError, synthesize
from coursegen.shared.store import Connection
from coursegen.shared.store.narration import store_narration_audio

log = logging.getLogger(__name__)


async def narrate(db: Connection, handoff: Handoff, script: str) -> None:
    """Speak a module's narration script and store the audio with the module's other media.

    No engine here: nothing is stored and the course shows the script alone. A speech endpoint that
    fails is retried like any other network failure.
    """
    assert handoff.module_index is not None
    try:
        speech = await synthesize(script)
    except SpeechError as exc:
        raise RetryableError(str(exc)) from exc
    if speech is None:
        log.info("no speech engine: module %s of %s keeps its script only", handoff.module_index, handoff.session_id)
        return
    await store_narration_audio(
        db,
        session_id=handoff.session_id,
        module_index=handoff.module_index,
        mime=speech.mime,
        audio=speech.data,
        engine=speech.engine,
    )
