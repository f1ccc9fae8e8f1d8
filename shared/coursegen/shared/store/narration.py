"""Narration audio of course modules: written by the multimedia stage, read for the course view and exports."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from coursegen.shared.store._pool import Connection


@dataclass(frozen=True)
class NarrationClip:
    module_index: int
    mime: str
    audio: bytes
    engine: str


async def store_narration_audio(
    db: Connection,
    *,
    session_id: str,
    module_index: int,
    mime: str,
    audio: bytes,
    engine: str,
) -> None:
    """Store a module's audio once, under the course run's own company; a redelivery leaves the first in place."""
    await db.execute(
        """
        INSERT INTO module_narration_audio (session_id, module_index, company_id, mime, audio, engine)
        SELECT session_id, $2, company_id, $3, $4, $5 FROM course_runs WHERE session_id = $1
        ON CONFLICT (session_id, module_index) DO NOTHING
        """,
        session_id,
        module_index,
        mime,
        audio,
        engine,
    )


async def narration_audio(conn: Connection, session_id: str, company_id: uuid.UUID) -> dict[int, NarrationClip]:
    """Every module's audio of a course run of this company, by module index."""
    rows = await conn.fetch(
        "SELECT module_index, mime, audio, engine FROM module_narration_audio "
        "WHERE session_id = $1 AND company_id = $2 ORDER BY module_index",
        session_id,
        company_id,
    )
    return {
        r["module_index"]: NarrationClip(
            module_index=r["module_index"], mime=r["mime"], audio=bytes(r["audio"]), engine=r["engine"]
        )
        for r in rows
    }
