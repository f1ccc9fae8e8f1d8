"""The researcher's tools: the module brief and the knowledge base."""

from __future__ import annotations

import json
from typing import Annotated

from agents import RunContextWrapper, function_tool

from coursegen.shared.events import ModuleHandoff
from coursegen.shared.stage import StageContext
from coursegen.shared.store import kb, plans


@function_tool(failure_error_function=None)
async def get_module_brief(ctx: RunContextWrapper[StageContext[ModuleHandoff]]) -> str:
    """The module to research: its title, the skills it closes, its objectives and suggested queries."""
    c = ctx.context
    async with c.db.connection() as conn:
        brief = await plans.module_brief(conn, c.run.session_id, c.module_index)
    return brief.model_dump_json()


@function_tool(failure_error_function=None)
async def search_knowledge_base(
    ctx: RunContextWrapper[StageContext[ModuleHandoff]],
    query: Annotated[str, "What to look for: a skill, a practice, a question"],
    limit: Annotated[int, "How many passages at most (1-8)"] = 4,
) -> str:
    """Search the company's knowledge base and the shared library. Returns passages with their ids."""
    c = ctx.context
    async with c.db.connection() as conn:
        hits = await kb.search(conn, c.run.company_id, query, limit=max(1, min(8, limit)))
    return json.dumps(
        [
            {"passage_id": str(h.passage_id), "document": h.document, "heading": h.heading, "text": h.content}
            for h in hits
        ]
    )
