"""The content writer's tools: the brief (with what reviewers asked for, on a revision) and the findings."""

from __future__ import annotations

from typing import Any

from agents import RunContextWrapper, function_tool

from coursegen.shared.events import ModuleHandoff
from coursegen.shared.models import compact
from coursegen.shared.slices import brief_for_writers, cited_findings
from coursegen.shared.stage import StageContext
from coursegen.shared.store import Connection, people, plans, quality, research, reviews


async def revision_feedback(conn: Connection, session_id: str, module_index: int, revision: int) -> dict[str, Any]:
    """What to change in the previous draft: the quality review's feedback, and the change requests
    people made on the assembled module (``reviewer_comments``, to be followed)."""
    comments = await reviews.module_comments(conn, session_id, module_index, revision)
    # A reworked module keeps what every earlier review asked for, not only the last one.
    earlier = range(revision) if comments else range(revision - 1, revision)
    feedback: list[str] = []
    for before in earlier:
        report = await quality.get_report(conn, session_id, module_index, before)
        feedback += report.feedback if report else []
    return {
        "feedback": list(dict.fromkeys(feedback + [f"reviewer: {comment}" for comment in comments])),
        "reviewer_comments": comments,
    }


@function_tool(failure_error_function=None)
async def get_module_brief(ctx: RunContextWrapper[StageContext[ModuleHandoff]]) -> str:
    """The module to write, its learner, language and, on a revision, what reviewers asked for."""
    c = ctx.context
    h = c.handoff
    async with c.db.connection() as conn:
        brief = await plans.module_brief(conn, c.run.session_id, c.module_index)
        language = await people.employee_language(conn, c.run.company_id, c.run.employee_id)
        asked = await revision_feedback(conn, c.run.session_id, c.module_index, h.revision) if h.revision else {}
    return compact({**brief_for_writers(brief), "language": language, **asked})


@function_tool(failure_error_function=None)
async def get_research_findings(ctx: RunContextWrapper[StageContext[ModuleHandoff]]) -> str:
    """Findings per skill, each ending in its citation [n]."""
    c = ctx.context
    async with c.db.connection() as conn:
        found = await research.get_research(conn, c.run.session_id, c.module_index)
    return compact(cited_findings(found))
