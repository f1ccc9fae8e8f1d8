"""Module enrichments: the enhancer's examples, exercises and quiz (``module_enhancements``) and
multimedia's diagram, alt text and narration (``module_multimedia``), one of each per module revision
(the content revision they enrich: a module reworked after review gets its own)."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict

from coursegen.shared.store._pool import Connection


class Enhancements(BaseModel):
    model_config = ConfigDict(frozen=True)

    examples: list[dict[str, Any]]
    exercises: list[dict[str, Any]]
    quiz: list[dict[str, Any]]


class Multimedia(BaseModel):
    model_config = ConfigDict(frozen=True)

    diagram_mermaid: str
    diagram_svg: str
    alt_text: str
    narration_script: str


async def insert_enhancements(
    conn: Connection, *, session_id: str, module_index: int, revision: int, job_id: uuid.UUID, out: Enhancements
) -> None:
    await conn.execute(
        "INSERT INTO module_enhancements (session_id, module_index, job_id, examples, exercises, quiz, revision) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        session_id,
        module_index,
        job_id,
        out.examples,
        out.exercises,
        out.quiz,
        revision,
    )


async def enhancements_exist(conn: Connection, session_id: str, module_index: int, revision: int) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM module_enhancements WHERE session_id = $1 AND module_index = $2 AND revision = $3",
            session_id,
            module_index,
            revision,
        )
    )


async def insert_multimedia(
    conn: Connection, *, session_id: str, module_index: int, revision: int, job_id: uuid.UUID, out: Multimedia
) -> None:
    await conn.execute(
        "INSERT INTO module_multimedia (session_id, module_index, job_id, diagram_mermaid, diagram_svg, alt_text, "
        "narration_script, revision) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        session_id,
        module_index,
        job_id,
        out.diagram_mermaid,
        out.diagram_svg,
        out.alt_text,
        out.narration_script,
        revision,
    )


async def multimedia_exists(conn: Connection, session_id: str, module_index: int, revision: int) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM module_multimedia WHERE session_id = $1 AND module_index = $2 AND revision = $3",
            session_id,
            module_index,
            revision,
        )
    )
