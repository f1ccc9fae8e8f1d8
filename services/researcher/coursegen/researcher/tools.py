"""The researcher's tools: the module brief and the knowledge base."""

from __future__ import annotations

import json
from typing import Annotated

from agents import RunContextWrapper, function_tool

from coursegen.shared import artifacts, kb
from coursegen.shared.stage import StageContext


@function_tool(failure_error_function=None)
async def get_module_brief(ctx: RunContextWrapper[StageContext]) -> str:
    """The module to research: its title, the skills it closes, its objectives and suggested queries."""
    h = ctx.context.handoff
    assert h.module_index is not None
    return json.dumps(await artifacts.module_brief(ctx.context.db, h.session_id, h.module_index))


@function_tool(failure_error_function=None)
async def search_knowledge_base(
    ctx: RunContextWrapper[StageContext],
    query: Annotated[str, "What to look for: a skill, a practice, a question"],
    limit: Annotated[int, "How many passages at most (1-8)"] = 4,
) -> str:
    """Search the company's knowledge base and the shared library. Returns passages with their ids."""
    c = ctx.context
    hits = await kb.search(c.db, c.handoff.company_id, query, limit=max(1, min(8, limit)))
    seen = c.scratch.setdefault("passages", {})
    for hit in hits:
        seen[str(hit["passage_id"])] = hit
    return json.dumps(
        [
            {
                "passage_id": str(h["passage_id"]),
                "document": h["document"],
                "heading": h["heading"],
                "text": h["content"],
            }
            for h in hits
        ]
    )
