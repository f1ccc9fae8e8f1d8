"""The enhancer's tools: the approved module and its findings."""

from __future__ import annotations

from agents import RunContextWrapper, function_tool

from coursegen.shared import artifacts
from coursegen.shared.events import ModuleHandoff
from coursegen.shared.stage import StageContext
from coursegen.shared.store import research


@function_tool(failure_error_function=None)
async def get_approved_module(ctx: RunContextWrapper[StageContext[ModuleHandoff]]) -> str:
    """The module as quality approved it: brief, sections and key takeaways."""
    c = ctx.context
    async with c.db.connection() as conn:
        module = await artifacts.approved_module(conn, c.run.session_id, c.module_index)
    return module.model_dump_json(
        include={"title", "skills", "objectives", "target_role", "core_content", "key_takeaways"}
    )


@function_tool(failure_error_function=None)
async def get_research_findings(ctx: RunContextWrapper[StageContext[ModuleHandoff]]) -> str:
    """The module's findings with their numbered sources."""
    c = ctx.context
    async with c.db.connection() as conn:
        found = await research.get_research(conn, c.run.session_id, c.module_index)
    return found.model_dump_json()
