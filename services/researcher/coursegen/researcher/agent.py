"""The researcher agent: findings for one module, each tied to a knowledge-base passage."""

from __future__ import annotations

from agents import Agent
from pydantic import Field

from coursegen.researcher.tools import get_module_sources
from coursegen.shared.events import ModuleHandoff
from coursegen.shared.models import AgentOutput
from coursegen.shared.stage import StageContext

INSTRUCTIONS = """\
Research one module. Call get_module_sources (also_search only if a skill lacks passages).
Findings: short statements, each from one passage (its id, a one-sentence verbatim quote).
Use only the passages; name a skill with none in the summary."""

WEB_SEARCH_INSTRUCTIONS = """\
You may also search the web, for a skill the knowledge base says too little about.
A web source has an empty passage_id, the page's url, its title as document, and a
verbatim sentence of the page as quote. Prefer the knowledge base where it has the answer."""


class Source(AgentOutput):
    ref: int = Field(ge=1)
    """The citation number, [ref] in the content."""
    passage_id: str
    """The passage's id (empty for a web page)."""
    document: str
    heading: str
    quote: str
    """A verbatim sentence from the passage."""
    url: str | None = None
    """A web page's address, when the source is a web search result rather than a passage."""


class Finding(AgentOutput):
    skill: str
    """The module skill the finding is about."""
    statement: str
    source_ref: int = Field(ge=1)


class ResearchFindings(AgentOutput):
    summary: str
    findings: list[Finding]
    sources: list[Source]


researcher_agent = Agent[StageContext[ModuleHandoff]](
    name="researcher",
    instructions=INSTRUCTIONS,
    tools=[get_module_sources],
    output_type=ResearchFindings,
)
