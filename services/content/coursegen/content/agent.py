"""The content agent: one module's sections, written from the research findings."""

from __future__ import annotations

from agents import Agent
from pydantic import Field

from coursegen.content.tools import get_module_brief, get_research_findings
from coursegen.shared.events import ModuleHandoff
from coursegen.shared.models import AgentOutput
from coursegen.shared.stage import StageContext

INSTRUCTIONS = """\
Write one course module for the learner's role, in the brief's language. Call both tools at once.
Keep each finding's citation [n]; state no fact without a finding. Address all feedback.
Plain prose, short paragraphs, Markdown lists where they help."""


class ModuleDraft(AgentOutput):
    title: str
    introduction: str
    """Why this module matters for the learner's role; what they will be able to do."""
    core_content: str
    """The substance, skill by skill, with citations [n]."""
    practical_applications: str
    """How to use it at work this week."""
    case_studies: str
    """Worked situations from the learner's kind of work."""
    assessments: str
    """How the learner checks their own progress."""
    key_takeaways: list[str] = Field(min_length=1)


content_agent = Agent[StageContext[ModuleHandoff]](
    name="content",
    instructions=INSTRUCTIONS,
    tools=[get_module_brief, get_research_findings],
    output_type=ModuleDraft,
)
