"""The enhancer's tools: the approved module and its findings."""

from __future__ import annotations

import json

from agents import RunContextWrapper, function_tool

from coursegen.shared import artifacts
from coursegen.shared.stage import StageContext


@function_tool(failure_error_function=None)
async def get_approved_module(ctx: RunContextWrapper[StageContext]) -> str:
    """The module as quality approved it: brief, sections and key takeaways."""
    h = ctx.context.handoff
    assert h.module_index is not None
    module = await artifacts.approved_module(ctx.context.db, h.session_id, h.module_index)
    fields = ("title", "skills", "objectives", "target_role", "core_content", "key_takeaways")
    return json.dumps({k: module[k] for k in fields})


@function_tool(failure_error_function=None)
async def get_research_findings(ctx: RunContextWrapper[StageContext]) -> str:
    """The module's findings with their numbered sources."""
    h = ctx.context.handoff
    assert h.module_index is not None
    return json.dumps(await artifacts.research(ctx.context.db, h.session_id, h.module_index))
