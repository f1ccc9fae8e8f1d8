"""The reviewer's tools: the draft and the measured rubric."""

from __future__ import annotations

import asyncio
import json

from agents import RunContextWrapper, function_tool

from coursegen.quality.rubric import measure
from coursegen.shared import artifacts
from coursegen.shared.stage import StageContext


async def measure_draft(ctx: StageContext) -> dict[str, object]:
    h = ctx.handoff
    assert h.module_index is not None
    draft = await artifacts.module_content(ctx.db, h.session_id, h.module_index, h.revision)
    brief = await artifacts.module_brief(ctx.db, h.session_id, h.module_index)
    research = await artifacts.research(ctx.db, h.session_id, h.module_index)
    sections = {name: draft[name] or "" for name in artifacts.SECTIONS}
    # Off the event loop: readability counts syllables word by word, and other messages and heartbeats wait.
    rubric = await asyncio.to_thread(measure, sections, brief["skills"], research["sources"], research["findings"])
    ctx.scratch["rubric"] = rubric
    return {"revision": h.revision, **rubric.as_dict(), "feedback": rubric.feedback()}


@function_tool(failure_error_function=None)
async def get_module_draft(ctx: RunContextWrapper[StageContext]) -> str:
    """The draft under review: its title and five sections."""
    h = ctx.context.handoff
    assert h.module_index is not None
    draft = await artifacts.module_content(ctx.context.db, h.session_id, h.module_index, h.revision)
    return json.dumps({"title": draft["module_name"], **{n: draft[n] for n in artifacts.SECTIONS}})


@function_tool(failure_error_function=None)
async def score_module(ctx: RunContextWrapper[StageContext]) -> str:
    """Measure the draft: gap coverage, citations, readability, structure (25 points each), with findings."""
    return json.dumps(await measure_draft(ctx.context))
