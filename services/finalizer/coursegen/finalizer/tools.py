"""The finalizer's tools: the course outline (titles and takeaways, never the full text)."""

from __future__ import annotations

from agents import RunContextWrapper, function_tool

from coursegen.shared.events import ModuleHandoff
from coursegen.shared.models import compact
from coursegen.shared.stage import StageContext
from coursegen.shared.store import courses, plans


@function_tool(failure_error_function=None)
async def get_course_outline(ctx: RunContextWrapper[StageContext[ModuleHandoff]]) -> str:
    """The course's title, summary, weeks, and each module's title, takeaways and review warning."""
    c = ctx.context
    async with c.db.connection() as conn:
        plan = await plans.get_plan(conn, c.run.session_id)
        modules = await courses.outline_modules(conn, c.run.session_id)
    return compact(
        {
            "course_title": plan.course_title,
            "summary": plan.summary,
            "weeks": plan.course_duration_weeks,
            "target_role": plan.employee_profile.get("target_role"),
            "learning_path": plan.learning_path,
            "modules": [m.model_dump() for m in modules],
        }
    )
