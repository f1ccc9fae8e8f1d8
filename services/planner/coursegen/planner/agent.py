"""The planner agent: from an employee's skill gaps to a course plan."""

from __future__ import annotations

from agents import Agent
from pydantic import Field

from coursegen.planner.tools import analyze_skill_gaps, get_employee_profile, get_reviewer_comments
from coursegen.shared.events import CourseHandoff
from coursegen.shared.models import AgentOutput
from coursegen.shared.stage import StageContext

INSTRUCTIONS = """\
Plan a training course for one employee. Call all three tools at once.
Cover every gap with a module (related gaps may share one), prerequisites and severe gaps first.
When reviewers rejected an earlier outline, answer their comments. No gaps: no modules. Never invent skills."""


class SkillGap(AgentOutput):
    skill: str
    """The skill's name, as in the gap analysis."""
    current_level: int
    required_level: int
    importance: int
    """1-5: how much the target role depends on the skill."""
    severity: str
    """critical, high, medium or low."""
    priority_score: float


class PlannedModule(AgentOutput):
    title: str
    skills: list[str] = Field(min_length=1)
    """The gaps (skill names) this module closes."""
    objectives: list[str] = Field(min_length=1)
    """What the learner can do after the module."""
    duration_weeks: int = Field(ge=1, le=12)
    prerequisites: list[int] = Field(default_factory=list)
    """Indexes of modules that must come first."""
    research_queries: list[str] = Field(min_length=1)
    """Queries for the knowledge base."""
    priority: str
    """critical, high, medium or low: the most severe gap the module covers."""


class CoursePlan(AgentOutput):
    course_title: str
    summary: str
    """Two sentences: who the course is for and what it closes."""
    prioritized_gaps: list[SkillGap]
    modules: list[PlannedModule]
    course_duration_weeks: int = Field(ge=0)


planner_agent = Agent[StageContext[CourseHandoff]](
    name="planner",
    instructions=INSTRUCTIONS,
    tools=[get_employee_profile, analyze_skill_gaps, get_reviewer_comments],
    output_type=CoursePlan,
)
