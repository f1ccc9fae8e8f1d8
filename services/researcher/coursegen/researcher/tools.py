"""The researcher's tools: the module's sources, and the knowledge base for anything more."""

from __future__ import annotations

import re
from typing import Annotated, Any

from agents import RunContextWrapper, function_tool

from coursegen.shared.events import ModuleHandoff
from coursegen.shared.models import compact
from coursegen.shared.stage import StageContext
from coursegen.shared.store import Connection, kb, plans

PER_SKILL = 3
"""Passages per skill in the module's sources."""
EXCERPT_SENTENCES = 3
"""Sentences kept of a passage: a finding is one sentence, and a source gives at most three."""


def excerpt(text: str, sentences: int = EXCERPT_SENTENCES) -> str:
    """A passage's first sentences of five words or more (shorter ones are headings and fragments)."""
    kept = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 5]
    return " ".join(kept[:sentences])


def _passages(hits: list[kb.PassageHit]) -> list[dict[str, Any]]:
    return [
        {"passage_id": str(h.passage_id), "document": h.document, "heading": h.heading, "text": excerpt(h.content)}
        for h in hits
    ]


async def _search(conn: Connection, company_id: Any, query: str, limit: int) -> list[dict[str, Any]]:
    return _passages(await kb.search(conn, company_id, query, limit=limit))


@function_tool(failure_error_function=None)
async def get_module_sources(
    ctx: RunContextWrapper[StageContext[ModuleHandoff]],
    also_search: Annotated[str, "Another query, if a skill lacks passages"] = "",
) -> str:
    """The module's skills and per skill the best knowledge-base passages (first sentences)."""
    c = ctx.context
    # One tool for the module's own searches and any further one: a second tool's definition would be
    # sent on every turn of every run.
    async with c.db.connection() as conn:
        brief = await plans.module_brief(conn, c.run.session_id, c.module_index)
        queries = [*brief.skills, *([also_search.strip()] if also_search.strip() else [])]
        found = {q: await _search(conn, c.run.company_id, q, PER_SKILL) for q in queries}
    return compact({"title": brief.title, "skills": brief.skills, "passages": found})
