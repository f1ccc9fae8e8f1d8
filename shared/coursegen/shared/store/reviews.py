"""People in the loop (``review_requests``, ``review_audit``): what reviewers asked for, and who did what.

A rejected outline or a module's change request opens a review round of the
course run: its comment is stored here and is the input the agent reads (never
just a prompt string). Every person's action is appended to ``review_audit``,
which a trigger keeps append-only. Reads take the company and filter on it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from coursegen.shared.store._pool import Connection


class RequestKind(StrEnum):
    REPLAN = "replan"
    """The outline was rejected: the planner plans again, with the comment."""
    CHANGE_REQUEST = "change_request"
    """A module of a draft goes through content, quality and the enrichments again."""


class ReviewRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    session_id: str
    round: int
    company_id: uuid.UUID
    kind: RequestKind
    module_index: int | None
    revision: int | None
    """For a change request: the content revision that redoes the module."""
    comment: str
    reviewer: str
    command_event_id: uuid.UUID
    created_at: datetime


_REQUEST_COLUMNS = (
    "session_id, round, company_id, kind, module_index, revision, comment, reviewer, command_event_id, created_at"
)


async def outline_review_required(conn: Connection, job_id: uuid.UUID) -> bool:
    """Whether the job asked for its outlines to be approved by a person."""
    value = await conn.fetchval(
        "SELECT coalesce((job_config ->> 'review_outline')::boolean, false) FROM course_generation_jobs "
        "WHERE job_id = $1",
        job_id,
    )
    return bool(value)


async def request_for_command(conn: Connection, command_event_id: uuid.UUID) -> ReviewRequest | None:
    """The request a command already opened (a redelivered command finds it)."""
    row = await conn.fetchrow(
        f"SELECT {_REQUEST_COLUMNS} FROM review_requests WHERE command_event_id = $1", command_event_id
    )
    return ReviewRequest.model_validate(dict(row)) if row else None


async def open_request(
    conn: Connection,
    *,
    session_id: str,
    company_id: uuid.UUID,
    kind: RequestKind,
    comment: str,
    reviewer: str,
    command_event_id: uuid.UUID,
    module_index: int | None = None,
    revision: int | None = None,
) -> ReviewRequest:
    """A new round of the run, numbered after its last one (call under the run's row lock)."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO review_requests (session_id, round, company_id, kind, module_index, revision, comment,
                                     reviewer, command_event_id)
        SELECT $1, coalesce(max(round), 0) + 1, $2, $3, $4, $5, $6, $7, $8
          FROM review_requests WHERE session_id = $1
        RETURNING {_REQUEST_COLUMNS}
        """,
        session_id,
        company_id,
        str(kind),
        module_index,
        revision,
        comment,
        reviewer,
        command_event_id,
    )
    assert row is not None
    return ReviewRequest.model_validate(dict(row))


async def get_request(conn: Connection, session_id: str, round: int) -> ReviewRequest | None:
    row = await conn.fetchrow(
        f"SELECT {_REQUEST_COLUMNS} FROM review_requests WHERE session_id = $1 AND round = $2", session_id, round
    )
    return ReviewRequest.model_validate(dict(row)) if row else None


async def last_round(conn: Connection, session_id: str) -> int:
    value = await conn.fetchval("SELECT coalesce(max(round), 0) FROM review_requests WHERE session_id = $1", session_id)
    return int(value)


async def changes_in_progress(conn: Connection, company_id: uuid.UUID, session_id: str) -> list[ReviewRequest]:
    """The run's change requests whose new version has not been assembled yet, oldest first."""
    rows = await conn.fetch(
        f"""
        SELECT {_REQUEST_COLUMNS} FROM review_requests q
         WHERE q.company_id = $1 AND q.session_id = $2 AND q.kind = 'change_request'
           AND NOT EXISTS (SELECT 1 FROM course_versions v WHERE v.session_id = q.session_id AND v.round = q.round)
         ORDER BY q.round
        """,
        company_id,
        session_id,
    )
    return [ReviewRequest.model_validate(dict(r)) for r in rows]


async def outline_comments(conn: Connection, session_id: str, up_to_round: int) -> list[str]:
    """The comments of every rejected outline of the run, oldest first: the planner's input."""
    rows = await conn.fetch(
        "SELECT comment FROM review_requests WHERE session_id = $1 AND kind = 'replan' AND round <= $2 ORDER BY round",
        session_id,
        up_to_round,
    )
    return [r["comment"] for r in rows]


async def module_comments(conn: Connection, session_id: str, module_index: int, up_to_revision: int) -> list[str]:
    """The reviewers' change requests on one module up to a content revision, oldest first: content's input."""
    rows = await conn.fetch(
        """
        SELECT comment FROM review_requests
         WHERE session_id = $1 AND kind = 'change_request' AND module_index = $2 AND revision <= $3
         ORDER BY round
        """,
        session_id,
        module_index,
        up_to_revision,
    )
    return [r["comment"] for r in rows]


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    audit_id: int
    company_id: uuid.UUID
    course_id: uuid.UUID | None
    session_id: str | None
    actor: str
    action: str
    details: dict[str, Any]
    at: datetime


async def record_action(
    conn: Connection,
    *,
    company_id: uuid.UUID,
    actor: str,
    action: str,
    details: dict[str, Any] | None = None,
    course_id: uuid.UUID | None = None,
    session_id: str | None = None,
) -> None:
    """Append one person's action to the audit trail (never updated, never deleted)."""
    await conn.execute(
        "INSERT INTO review_audit (company_id, course_id, session_id, actor, action, details) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        company_id,
        course_id,
        session_id,
        actor,
        action,
        details or {},
    )


async def audit_trail(conn: Connection, company_id: uuid.UUID, course_id: uuid.UUID) -> list[AuditEntry]:
    """Every action on a course, including those on the outlines of its runs, oldest first."""
    rows = await conn.fetch(
        """
        SELECT audit_id, company_id, course_id, session_id, actor, action, details, at
          FROM review_audit a
         WHERE a.company_id = $1
           AND (a.course_id = $2 OR a.session_id IN (
                SELECT r.session_id FROM course_runs r JOIN courses c USING (employee_id)
                 WHERE c.course_id = $2 AND c.company_id = $1 AND r.company_id = $1))
         ORDER BY a.audit_id
        """,
        company_id,
        course_id,
    )
    return [AuditEntry.model_validate(dict(r)) for r in rows]


async def action_recorded(conn: Connection, company_id: uuid.UUID, event_id: uuid.UUID) -> bool:
    """Whether the command with this event id is in the audit trail already (a redelivery)."""
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM review_audit WHERE company_id = $1 AND details ->> 'event_id' = $2",
            company_id,
            str(event_id),
        )
    )
