"""The quality agent: reviews one module draft against the rubric."""

from __future__ import annotations

from agents import Agent

from coursegen.quality.tools import get_module_draft, score_module
from coursegen.shared.events import ModuleHandoff
from coursegen.shared.models import AgentOutput
from coursegen.shared.stage import StageContext

INSTRUCTIONS = """\
You review one module draft of a training course.
1. Call score_module (the measured rubric) and get_module_draft.
2. Write feedback the writer can act on: one line per problem, naming the section
   or skill. Include every problem the rubric found. Note strengths briefly.
You do not decide pass or fail: the rubric's score does."""


class Review(AgentOutput):
    summary: str
    feedback: list[str]
    """Concrete changes the writer must make; empty when there is nothing to change."""
    strengths: list[str]


quality_agent = Agent[StageContext[ModuleHandoff]](
    name="quality",
    instructions=INSTRUCTIONS,
    tools=[score_module, get_module_draft],
    output_type=Review,
)
