"""Research findings (``research_findings``): the researcher's output, one per module."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict

from coursegen.shared.errors import InvalidData
from coursegen.shared.store._pool import Connection


class Research(BaseModel):
    model_config = ConfigDict(frozen=True)

    summary: str
    findings: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    """Numbered sources (``ref``), each with the passage and document it quotes."""


async def insert_research(
    conn: Connection, *, session_id: str, module_index: int, job_id: uuid.UUID, module_title: str, research: Research
) -> None:
    await conn.execute(
        """
        INSERT INTO research_findings (session_id, module_index, job_id, module_title, summary, findings, sources)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        session_id,
        module_index,
        job_id,
        module_title,
        research.summary,
        research.findings,
        research.sources,
    )


async def research_exists(conn: Connection, session_id: str, module_index: int) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM research_findings WHERE session_id = $1 AND module_index = $2", session_id, module_index
        )
    )


async def get_research(conn: Connection, session_id: str, module_index: int) -> Research:
    row = await conn.fetchrow(
        "SELECT summary, findings, sources FROM research_findings WHERE session_id = $1 AND module_index = $2",
        session_id,
        module_index,
    )
    if row is None:
        raise InvalidData(f"no research for session {session_id} module {module_index}")
    return Research.model_validate(dict(row))
