"""The reviewer's tools: the draft and the measured rubric."""

from __future__ import annotations

import asyncio
import json

from agents import RunContextWrapper, function_tool

from coursegen.quality.rubric import Rubric, measure
from coursegen.shared.events import ModuleHandoff
from coursegen.shared.stage import StageContext
from coursegen.shared.store import Connection, content, plans, research


async def measure_draft(conn: Connection, session_id: str, module_index: int, revision: int) -> Rubric:
    """The rubric of one draft, measured from what is stored (the same draft always measures the same)."""
    draft = await content.get_draft(conn, session_id, module_index, revision)
    brief = await plans.module_brief(conn, session_id, module_index)
    found = await research.get_research(conn, session_id, module_index)
    # Off the event loop: readability counts syllables word by word, and other messages and heartbeats wait.
    return await asyncio.to_thread(measure, draft.sections, brief.skills, found.sources, found.findings)


@function_tool(failure_error_function=None)
async def get_module_draft(ctx: RunContextWrapper[StageContext[ModuleHandoff]]) -> str:
    """The draft under review: its title and five sections."""
    c = ctx.context
    async with c.db.connection() as conn:
        draft = await content.get_draft(conn, c.run.session_id, c.module_index, c.handoff.revision)
    return json.dumps({"title": draft.module_name, **draft.sections})


@function_tool(failure_error_function=None)
async def score_module(ctx: RunContextWrapper[StageContext[ModuleHandoff]]) -> str:
    """Measure the draft: gap coverage, citations, readability, structure (25 points each), with findings."""
    c = ctx.context
    async with c.db.connection() as conn:
        rubric = await measure_draft(conn, c.run.session_id, c.module_index, c.handoff.revision)
    return json.dumps({"revision": c.handoff.revision, **rubric.as_dict(), "feedback": rubric.feedback()})
