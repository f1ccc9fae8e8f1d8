"""The content writer's tools: the brief, the findings, and the reviewer's feedback."""

from __future__ import annotations

import json

from agents import RunContextWrapper, function_tool

from coursegen.shared.events import ModuleHandoff
from coursegen.shared.stage import StageContext
from coursegen.shared.store import people, plans, quality, research, reviews


@function_tool(failure_error_function=None)
async def get_module_brief(ctx: RunContextWrapper[StageContext[ModuleHandoff]]) -> str:
    """The module to write: title, skills, objectives, duration, who it is for and the course language."""
    c = ctx.context
    async with c.db.connection() as conn:
        brief = await plans.module_brief(conn, c.run.session_id, c.module_index)
        language = await people.employee_language(conn, c.run.company_id, c.run.employee_id)
    return json.dumps({**brief.model_dump(mode="json"), "language": language})


@function_tool(failure_error_function=None)
async def get_research_findings(ctx: RunContextWrapper[StageContext[ModuleHandoff]]) -> str:
    """The researched findings with their numbered sources; cite a source as [n]."""
    c = ctx.context
    async with c.db.connection() as conn:
        found = await research.get_research(conn, c.run.session_id, c.module_index)
    return found.model_dump_json()


@function_tool(failure_error_function=None)
async def get_quality_feedback(ctx: RunContextWrapper[StageContext[ModuleHandoff]]) -> str:
    """What to change in the previous draft (empty on the first draft): the quality review's feedback,
    and the change requests people made on the assembled module (``reviewer_comments``, to be followed)."""
    c = ctx.context
    h = c.handoff
    if h.revision == 0:
        return json.dumps({"revision": 0, "feedback": [], "reviewer_comments": []})
    async with c.db.connection() as conn:
        comments = await reviews.module_comments(conn, c.run.session_id, c.module_index, h.revision)
        # A reworked module keeps what every earlier review asked for, not only the last one.
        earlier = range(h.revision) if comments else range(h.revision - 1, h.revision)
        feedback: list[str] = []
        for revision in earlier:
            report = await quality.get_report(conn, c.run.session_id, c.module_index, revision)
            feedback += report.feedback if report else []
    return json.dumps(
        {
            "revision": h.revision,
            "feedback": list(dict.fromkeys(feedback + [f"reviewer: {comment}" for comment in comments])),
            "reviewer_comments": comments,
        }
    )
