"""The content writer's tools: the brief, the findings, and the reviewer's feedback."""

from __future__ import annotations

import json

from agents import RunContextWrapper, function_tool

from coursegen.shared import artifacts
from coursegen.shared.stage import StageContext


@function_tool(failure_error_function=None)
async def get_module_brief(ctx: RunContextWrapper[StageContext]) -> str:
    """The module to write: title, skills, objectives, duration, who it is for and the course language."""
    h = ctx.context.handoff
    assert h.module_index is not None
    brief = await artifacts.module_brief(ctx.context.db, h.session_id, h.module_index)
    # Read live, not from the plan's snapshot: a corrected profile takes effect on resume.
    brief["language"] = (
        await ctx.context.db.fetchval("SELECT profile->>'language' FROM employees WHERE id = $1", h.employee_id) or "en"
    )
    ctx.context.scratch["brief"] = brief
    return json.dumps(brief)


@function_tool(failure_error_function=None)
async def get_research_findings(ctx: RunContextWrapper[StageContext]) -> str:
    """The researched findings with their numbered sources; cite a source as [n]."""
    h = ctx.context.handoff
    assert h.module_index is not None
    found = await artifacts.research(ctx.context.db, h.session_id, h.module_index)
    ctx.context.scratch["research"] = found
    return json.dumps(found)


@function_tool(failure_error_function=None)
async def get_quality_feedback(ctx: RunContextWrapper[StageContext]) -> str:
    """What the reviewer asked to change in the previous draft (empty on the first draft)."""
    h = ctx.context.handoff
    assert h.module_index is not None
    if h.revision == 0:
        return json.dumps({"revision": 0, "feedback": []})
    report = await artifacts.quality_report(ctx.context.db, h.session_id, h.module_index, h.revision - 1)
    return json.dumps({"revision": h.revision, "feedback": report["feedback"] if report else []})
