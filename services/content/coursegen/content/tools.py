"""The content writer's tools: the brief (with the reviewer's feedback on a revision) and the findings."""

from __future__ import annotations

from typing import Any

from agents import RunContextWrapper, function_tool

from coursegen.shared.events import ModuleHandoff
from coursegen.shared.models import compact
from coursegen.shared.slices import brief_for_writers, cited_findings
from coursegen.shared.stage import StageContext
from coursegen.shared.store import people, plans, quality, research


@function_tool(failure_error_function=None)
async def get_module_brief(ctx: RunContextWrapper[StageContext[ModuleHandoff]]) -> str:
    """The module to write, its learner, language and, on a revision, the reviewer's feedback."""
    c = ctx.context
    h = c.handoff
    async with c.db.connection() as conn:
        brief = await plans.module_brief(conn, c.run.session_id, c.module_index)
        language = await people.employee_language(conn, c.run.company_id, c.run.employee_id)
        report = (
            await quality.get_report(conn, c.run.session_id, c.module_index, h.revision - 1) if h.revision else None
        )
    out: dict[str, Any] = {**brief_for_writers(brief), "language": language}
    if h.revision:
        out["feedback"] = report.feedback if report else []
    return compact(out)


@function_tool(failure_error_function=None)
async def get_research_findings(ctx: RunContextWrapper[StageContext[ModuleHandoff]]) -> str:
    """Findings per skill, each ending in its citation [n]."""
    c = ctx.context
    async with c.db.connection() as conn:
        found = await research.get_research(conn, c.run.session_id, c.module_index)
    return compact(cited_findings(found))
