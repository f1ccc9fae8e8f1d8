"""The quality agent: reviews one module draft against the rubric."""

from __future__ import annotations

from typing import Literal

from agents import Agent

from coursegen.quality.tools import cited_claims, score_module
from coursegen.shared.events import ModuleHandoff
from coursegen.shared.models import AgentOutput
from coursegen.shared.stage import StageContext

INSTRUCTIONS = """\
Review one module draft. Call score_module: the rubric, measured on the draft.
Feedback: one actionable line per problem it found, naming the section or skill.
Strengths briefly. The score, not you, decides pass or fail.
Then call cited_claims and judge every claim against the passage it cites: entailed,
neutral or contradicted, by what the passage says, not by what is true elsewhere."""


class ClaimJudgement(AgentOutput):
    claim: int
    """The claim's number, as cited_claims lists it."""
    verdict: Literal["entailed", "neutral", "contradicted"]
    """entailed: the passage states or directly implies the sentence; contradicted: it says otherwise;
    neutral: it does not say."""


class Review(AgentOutput):
    summary: str
    feedback: list[str]
    """Concrete changes the writer must make; empty when there is nothing to change."""
    strengths: list[str]
    claims: list[ClaimJudgement]
    """One judgement per claim of cited_claims; empty when it was not called."""


quality_agent = Agent[StageContext[ModuleHandoff]](
    name="quality",
    instructions=INSTRUCTIONS,
    tools=[score_module, cited_claims],
    output_type=Review,
)
