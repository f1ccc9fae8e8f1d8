"""The multimedia agent's tools: the approved module's outline."""

from __future__ import annotations

import json

from agents import RunContextWrapper, function_tool

from coursegen.shared import artifacts
from coursegen.shared.stage import StageContext


@function_tool(failure_error_function=None)
async def get_module_outline(ctx: RunContextWrapper[StageContext]) -> str:
    """The approved module's title, skills, objectives, key takeaways and introduction."""
    h = ctx.context.handoff
    assert h.module_index is not None
    module = await artifacts.approved_module(ctx.context.db, h.session_id, h.module_index)
    fields = ("title", "skills", "objectives", "target_role", "duration_weeks", "key_takeaways", "introduction")
    return json.dumps({k: module[k] for k in fields})
