"""Module drafts (``cm_module_content``, the seed's table): content's output, one per module revision.

The one owner of ``cm_module_content.status``: a draft waits for review, is sent
back for revision, or is approved. Quality decides; this module writes it.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from coursegen.shared.errors import InvalidData, TransitionRefused
from coursegen.shared.store._pool import Connection

SECTIONS = ("introduction", "core_content", "practical_applications", "case_studies", "assessments")


class DraftStatus(StrEnum):
    QUALITY_CHECK = "quality_check"
    """Written, waiting for review."""
    REVISION = "revision"
    """Sent back: a later revision replaces it."""
    APPROVED = "approved"


class NewDraft(BaseModel):
    model_config = ConfigDict(frozen=True)

    session_id: str
    module_index: int
    revision: int
    job_id: uuid.UUID
    company_id: uuid.UUID
    employee_name: str
    module_name: str
    sections: dict[str, str]
    module_spec: dict[str, Any]
    research_context: dict[str, Any]
    section_word_counts: dict[str, int]
    priority_level: str


class Draft(BaseModel):
    model_config = ConfigDict(frozen=True)

    content_id: uuid.UUID
    module_name: str
    revision: int
    sections: dict[str, str]
    module_spec: dict[str, Any]
    total_word_count: int
    status: DraftStatus


async def insert_draft(conn: Connection, d: NewDraft) -> None:
    await conn.execute(
        f"""
        INSERT INTO cm_module_content (company_id, job_id, module_name, employee_name, session_id, module_index,
                                       revision, {", ".join(SECTIONS)}, module_spec, research_context,
                                       total_word_count, section_word_counts, status, priority_level, revision_count)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'quality_check', $17, $7)
        """,
        d.company_id,
        d.job_id,
        d.module_name,
        d.employee_name,
        d.session_id,
        d.module_index,
        d.revision,
        *(d.sections.get(name, "") for name in SECTIONS),
        d.module_spec,
        d.research_context,
        sum(d.section_word_counts.values()),
        d.section_word_counts,
        d.priority_level,
    )


async def draft_exists(conn: Connection, session_id: str, module_index: int, revision: int) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM cm_module_content WHERE session_id = $1 AND module_index = $2 AND revision = $3",
            session_id,
            module_index,
            revision,
        )
    )


async def get_draft(conn: Connection, session_id: str, module_index: int, revision: int) -> Draft:
    row = await conn.fetchrow(
        f"""
        SELECT content_id, module_name, revision, {", ".join(SECTIONS)}, module_spec, total_word_count, status
          FROM cm_module_content WHERE session_id = $1 AND module_index = $2 AND revision = $3
        """,
        session_id,
        module_index,
        revision,
    )
    if row is None:
        raise InvalidData(f"no content for session {session_id} module {module_index} revision {revision}")
    return Draft(
        content_id=row["content_id"],
        module_name=row["module_name"],
        revision=row["revision"],
        sections={name: row[name] or "" for name in SECTIONS},
        module_spec=row["module_spec"],
        total_word_count=row["total_word_count"] or 0,
        status=row["status"],
    )


async def review_draft(conn: Connection, session_id: str, module_index: int, revision: int, to: DraftStatus) -> None:
    """A reviewed draft: quality_check → revision or approved (once; the same verdict again is a no-op)."""
    if to is DraftStatus.QUALITY_CHECK:
        raise TransitionRefused("a reviewed draft does not go back to waiting for review")
    current = await conn.fetchval(
        """
        UPDATE cm_module_content SET status = $4
         WHERE session_id = $1 AND module_index = $2 AND revision = $3 AND status IN ('quality_check', $4)
        RETURNING status
        """,
        session_id,
        module_index,
        revision,
        str(to),
    )
    if current is None:
        raise TransitionRefused(f"draft {session_id}/{module_index}/r{revision} is not waiting for review")


async def latest_revision(conn: Connection, session_id: str, module_index: int) -> int | None:
    """The highest content revision of a module; None when it has no draft."""
    revision: int | None = await conn.fetchval(
        "SELECT max(revision) FROM cm_module_content WHERE session_id = $1 AND module_index = $2",
        session_id,
        module_index,
    )
    return revision
