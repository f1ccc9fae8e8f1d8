"""The researcher service: grounded findings per module, from the knowledge base."""

from __future__ import annotations

from agents import Agent, OpenAIResponsesModel, WebSearchTool

from coursegen.researcher.agent import INSTRUCTIONS, WEB_SEARCH_INSTRUCTIONS, ResearchFindings, researcher_agent
from coursegen.researcher.policy import research_policy
from coursegen.shared.artifacts import claim_unless_stored
from coursegen.shared.errors import AgentFailed
from coursegen.shared.models import ModelChoice
from coursegen.shared.settings import Settings
from coursegen.shared.stage import RunInfo, StageContext, StageSpec, hand_on, stage_service
from coursegen.shared.store import Executor


async def store(db: Executor, ctx: StageContext, out: ResearchFindings, info: RunInfo) -> None:
    h = ctx.handoff
    refs = {s.ref for s in out.sources}
    dangling = sorted({f.source_ref for f in out.findings} - refs)
    if dangling:
        raise AgentFailed(f"findings cite sources that do not exist: {dangling}")
    found = ctx.scratch.get("passages", {})
    web = ctx.settings.research_web_search
    unknown = [s.passage_id for s in out.sources if s.passage_id not in found and not (web and s.url)]
    if unknown:
        raise AgentFailed(f"sources name passages the search did not return: {unknown[:3]}")
    brief_title = await db.fetchval(
        "SELECT course_structure -> 'modules' -> $2::int ->> 'title' FROM cm_course_plans WHERE session_id = $1",
        h.session_id,
        h.module_index,
    )
    await db.execute(
        """
        INSERT INTO research_findings (session_id, module_index, job_id, module_title, summary, findings, sources)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        h.session_id,
        h.module_index,
        h.job_id,
        brief_title or "",
        out.summary,
        [f.model_dump() for f in out.findings],
        [
            {**s.model_dump(), "document_id": str(found[s.passage_id]["document_id"])}
            if s.passage_id in found
            else s.model_dump()
            for s in out.sources
        ],
    )


def with_web_search(agent: Agent[StageContext], choice: ModelChoice, settings: Settings) -> Agent[StageContext]:
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


spec = StageSpec[ResearchFindings](
    name="researcher",
    agent=researcher_agent,
    policy=research_policy,
    claim=claim_unless_stored("research_findings"),
    store=store,
    route=hand_on("content", revision=0),
    adapt=with_web_search,
)
service = stage_service(spec)
