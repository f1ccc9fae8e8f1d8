"""The content agent: one module's sections, written from the research findings."""

from __future__ import annotations

from agents import Agent
from pydantic import Field

from coursegen.content.tools import get_module_brief, get_quality_feedback, get_research_findings
from coursegen.shared.events import ModuleHandoff
from coursegen.shared.models import AgentOutput
from coursegen.shared.stage import StageContext

INSTRUCTIONS = """\
You write one module of a personalized training course.
1. Call get_module_brief, get_research_findings and get_quality_feedback.
2. Write the five sections for the learner's role. Every statement taken from a
   finding carries its citation [n], where n is the finding's source ref. Cite only
   sources that exist. Do not state facts you have no finding for.
3. On a revision, address every point of the feedback.
4. Write in the course language the brief gives.
Plain, direct prose; short paragraphs; Markdown lists where they help."""


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
    tools=[get_module_brief, get_research_findings, get_quality_feedback],
    output_type=ModuleDraft,
)
