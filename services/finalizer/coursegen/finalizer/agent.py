"""The finalizer agent: the words that frame the assembled course."""

from __future__ import annotations

from agents import Agent

from coursegen.finalizer.tools import get_course_outline
from coursegen.shared.events import ModuleHandoff
from coursegen.shared.models import AgentOutput
from coursegen.shared.stage import StageContext

INSTRUCTIONS = """\
Frame a finished course. Call get_course_outline, then write the overview, how to use it
week by week, and a closing note naming any module that passed review with a warning."""


class CourseFrame(AgentOutput):
    overview: str
    """What the course is for and how its modules build on each other (one or two paragraphs)."""
    how_to_use: str
    """How to work through the course week by week."""
    closing: str
    """A closing note; names any module that passed review with a warning."""


finalizer_agent = Agent[StageContext[ModuleHandoff]](
    name="finalizer",
    instructions=INSTRUCTIONS,
    tools=[get_course_outline],
    output_type=CourseFrame,
)
