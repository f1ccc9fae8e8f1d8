"""The enhancer agent: worked examples, exercises and a quiz for one module."""

from __future__ import annotations

from agents import Agent
from pydantic import Field, model_validator

from coursegen.enhancer.tools import get_approved_module
from coursegen.shared.events import ModuleHandoff
from coursegen.shared.models import AgentOutput
from coursegen.shared.stage import StageContext

INSTRUCTIONS = """\
Enrich one approved module. Call get_approved_module.
Add worked examples from the learner's role, step by step; exercises with success criteria;
a quiz: four options, one correct, an explanation citing its source [n].
Base every question on a finding."""


class WorkedExample(AgentOutput):
    title: str
    scenario: str
    steps: list[str] = Field(min_length=2)


class Exercise(AgentOutput):
    title: str
    task: str
    success_criteria: list[str] = Field(min_length=1)


class QuizQuestion(AgentOutput):
    question: str
    options: list[str] = Field(min_length=4, max_length=4)
    answer_index: int = Field(ge=0, le=3)
    """Which option is correct (0-3): the answer key."""
    explanation: str
    """Why that option is right, citing the source [n]."""

    @model_validator(mode="after")
    def _distinct_options(self) -> QuizQuestion:
        if len({o.strip().lower() for o in self.options}) != 4:
            raise ValueError("the four options must differ")
        return self


class Enhancements(AgentOutput):
    examples: list[WorkedExample] = Field(min_length=1)
    exercises: list[Exercise] = Field(min_length=1)
    quiz: list[QuizQuestion] = Field(min_length=1)


enhancer_agent = Agent[StageContext[ModuleHandoff]](
    name="enhancer",
    instructions=INSTRUCTIONS,
    tools=[get_approved_module],
    output_type=Enhancements,
)
