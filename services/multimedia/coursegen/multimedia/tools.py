"""The multimedia agent's tools: the approved module's outline."""

from __future__ import annotations

from agents import RunContextWrapper, function_tool

from coursegen.shared import artifacts
from coursegen.shared.events import ModuleHandoff
from coursegen.shared.stage import StageContext


@function_tool(failure_error_function=None)
async def get_module_outline(ctx: RunContextWrapper[StageContext[ModuleHandoff]]) -> str:
    """The approved module's title, skills, weeks, target role and key takeaways."""
    c = ctx.context
    async with c.db.connection() as conn:
        module = await artifacts.approved_module(conn, c.run.session_id, c.module_index)
    return module.model_dump_json(include={"title", "skills", "target_role", "duration_weeks", "key_takeaways"})
