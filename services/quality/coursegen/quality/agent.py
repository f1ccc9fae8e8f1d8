"""The quality agent: reviews one module draft against the rubric."""

from __future__ import annotations

from agents import Agent

from coursegen.quality.tools import score_module
from coursegen.shared.events import ModuleHandoff
from coursegen.shared.models import AgentOutput
from coursegen.shared.stage import StageContext

INSTRUCTIONS = """\
Review one module draft. Call score_module: the rubric, measured on the draft.
Feedback: one actionable line per problem it found, naming the section or skill.
Strengths briefly. The score, not you, decides pass or fail."""


class Review(AgentOutput):
    summary: str
    feedback: list[str]
    """Concrete changes the writer must make; empty when there is nothing to change."""
    strengths: list[str]


quality_agent = Agent[StageContext[ModuleHandoff]](
    name="quality",
    instructions=INSTRUCTIONS,
    tools=[score_module],
    output_type=Review,
)
