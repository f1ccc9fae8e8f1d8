"""The researcher service: grounded findings per module, from the knowledge base."""

from __future__ import annotations

import uuid

from agents import Agent, OpenAIResponsesModel, WebSearchTool

from coursegen.researcher.agent import INSTRUCTIONS, WEB_SEARCH_INSTRUCTIONS, ResearchFindings, researcher_agent
from coursegen.researcher.policy import research_policy
from coursegen.shared.errors import AgentFailed
from coursegen.shared.events import ModuleHandoff
from coursegen.shared.models import ModelChoice
from coursegen.shared.settings import Settings
from coursegen.shared.stage import RunInfo, StageContext, StageSpec, claim_unless, hand_on, stage_service
from coursegen.shared.store import Connection, kb, plans, research


async def stored(conn: Connection, h: ModuleHandoff) -> bool:
    return await research.research_exists(conn, h.session_id, h.module_index)


def _passage_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def store(conn: Connection, ctx: StageContext[ModuleHandoff], out: ResearchFindings, info: RunInfo) -> None:
    h, run = ctx.handoff, ctx.run
    refs = {s.ref for s in out.sources}
    dangling = sorted({f.source_ref for f in out.findings} - refs)
    if dangling:
        raise AgentFailed(f"findings cite sources that do not exist: {dangling}")
    # Every source must quote a passage this company may read: a made-up or another company's id is refused.
    ids = {s.passage_id: _passage_id(s.passage_id) for s in out.sources}
    known = [i for i in ids.values() if i is not None]
    found = await kb.passages(conn, run.company_id, known) if known else {}
    web = ctx.settings.research_web_search
    unknown = [s.passage_id for s in out.sources if ids[s.passage_id] not in found and not (web and s.url)]
    if unknown:
        raise AgentFailed(f"sources name passages that are not in the knowledge base: {unknown[:3]}")
    brief = await plans.module_brief(conn, run.session_id, h.module_index)
    sources = []
    for s in out.sources:
        passage_id = ids[s.passage_id]
        passage = found.get(passage_id) if passage_id is not None else None
        sources.append({**s.model_dump(), "document_id": str(passage.document_id)} if passage else s.model_dump())
    await research.insert_research(
        conn,
        session_id=run.session_id,
        module_index=h.module_index,
        job_id=run.job_id,
        module_title=brief.title,
        research=research.Research(
            summary=out.summary, findings=[f.model_dump() for f in out.findings], sources=sources
        ),
    )


def with_web_search(
    agent: Agent[StageContext[ModuleHandoff]], choice: ModelChoice, settings: Settings
) -> Agent[StageContext[ModuleHandoff]]:
    """Adds OpenAI's hosted web search when it is switched on and the model can run it.

    Hosted tools run only on OpenAI's Responses API: never on the offline model, and never
    on Chat Completions (which is also what ``openai:`` becomes with ``OPENAI_BASE_URL``).
    """
    if not settings.research_web_search:
        return agent
    if not choice.name.startswith("openai:") or not isinstance(choice.model, OpenAIResponsesModel):
        return agent
    return agent.clone(
        tools=[*agent.tools, WebSearchTool()], instructions=f"{INSTRUCTIONS}\n\n{WEB_SEARCH_INSTRUCTIONS}"
    )


spec = StageSpec[ModuleHandoff, ResearchFindings](
    name="researcher",
    handoff=ModuleHandoff,
    agent=researcher_agent,
    policy=research_policy,
    claim=claim_unless(stored),
    store=store,
    route=hand_on("content", revision=0),
    adapt=with_web_search,
)
service = stage_service(spec)
