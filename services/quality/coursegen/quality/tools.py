"""The reviewer's tools: the draft and the measured rubric."""

from __future__ import annotations

import asyncio

from agents import RunContextWrapper, function_tool

from coursegen.quality.rubric import Rubric, measure
from coursegen.shared.events import ModuleHandoff
from coursegen.shared.models import compact
from coursegen.shared.review import claims
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
async def score_module(ctx: RunContextWrapper[StageContext[ModuleHandoff]]) -> str:
    """The draft's rubric: coverage, citations, readability, structure (25 points each) and its problems."""
    c = ctx.context
    async with c.db.connection() as conn:
        rubric = await measure_draft(conn, c.run.session_id, c.module_index, c.handoff.revision)
    # The rubric is measured by code on the whole draft: the reviewer works from its findings, not the text.
    return compact({"revision": c.handoff.revision, **rubric.as_dict(), "feedback": rubric.feedback()})


async def draft_claims(
    conn: Connection, session_id: str, module_index: int, revision: int
) -> list[tuple[claims.ClaimKey, str]]:
    """The draft's cited sentences with the passages they cite, numbered as the judge sees them."""
    draft = await content.get_draft(conn, session_id, module_index, revision)
    found = await research.get_research(conn, session_id, module_index)
    return claims.cited_claims({"index": module_index, "sections": draft.sections, "sources": found.sources})


@function_tool(failure_error_function=None)
async def cited_claims(ctx: RunContextWrapper[StageContext[ModuleHandoff]]) -> str:
    """Every sentence of the draft that cites a source, numbered, with the passage it cites: judge each one."""
    c = ctx.context
    async with c.db.connection() as conn:
        found = await draft_claims(conn, c.run.session_id, c.module_index, c.handoff.revision)
    return compact(
        [{"claim": i, "sentence": key[2], "ref": key[3], "passage": passage} for i, (key, passage) in enumerate(found)]
    )
