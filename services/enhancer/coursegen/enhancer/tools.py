"""The enhancer's tool: the approved module and the findings it teaches from."""

from __future__ import annotations

from agents import RunContextWrapper, function_tool

from coursegen.shared import artifacts
from coursegen.shared.events import ModuleHandoff
from coursegen.shared.models import compact
from coursegen.shared.slices import cited_findings
from coursegen.shared.stage import StageContext
from coursegen.shared.store import research


@function_tool(failure_error_function=None)
async def get_approved_module(ctx: RunContextWrapper[StageContext[ModuleHandoff]]) -> str:
    """The approved module: skills, objectives, takeaways, and per skill the cited findings it teaches."""
    c = ctx.context
    async with c.db.connection() as conn:
        module = await artifacts.approved_module(conn, c.run.session_id, c.module_index)
        found = await research.get_research(conn, c.run.session_id, c.module_index)
    # The sections are written from these findings: the findings, not the prose, are what a quiz may test.
    shown = module.model_dump(mode="json", include={"title", "skills", "objectives", "target_role", "key_takeaways"})
    return compact({**shown, "findings": cited_findings(found)})
