"""Helpers for the review tests: a four-module employee, review commands on the wire, what a run is doing."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from coursegen.shared.events import Event
from coursegen.shared.settings import Settings
from coursegen.stack.seed import DemoEmployee
from tests.helpers import publish_raw, wait_for

FOUR_MODULES = DemoEmployee(
    "Noor Aziz",
    "noor.aziz@example.com",
    "Engineering",
    "Software Engineer",
    None,
    # Code Review missing (critical), Python and Testing two short (high), Git and SQL one short (paired).
    {"Python": 1, "Testing": 1, "Git": 1, "SQL": 1},
)
"""Four modules: Code Review, Python, Testing, then Git and SQL together."""


async def send(settings: Settings, subject: str, event: Event) -> None:
    """A review command as any client sends it: plain JSON on the subject."""
    await publish_raw(settings, subject, event.model_dump_json().encode(), str(event.event_id))


async def session_of(db: asyncpg.Pool[Any], job_id: uuid.UUID) -> str:
    session: str = await wait_for(db, "SELECT session_id FROM course_runs WHERE job_id = $1", job_id)
    return session


async def wait_for_status(db: asyncpg.Pool[Any], session_id: str, status: str, *, timeout: float = 60) -> None:
    await wait_for(db, "SELECT 1 FROM course_runs WHERE session_id = $1 AND status = $2", session_id, status,
                   timeout=timeout)  # fmt: skip


async def agent_runs(db: asyncpg.Pool[Any], session_id: str) -> list[tuple[str, int, int]]:
    """(stage, module, revision) of every successful agent run of a course run."""
    rows = await db.fetch(
        "SELECT stage, module_index, revision FROM agent_runs WHERE session_id = $1 AND status = 'succeeded'",
        session_id,
    )
    return sorted((r["stage"], r["module_index"], r["revision"]) for r in rows)
