"""The reviewer's offline policy: feedback is the rubric's findings."""

from __future__ import annotations

from coursegen.quality.agent import Review
from coursegen.shared.models import PolicyView, ToolCall


def review_policy(view: PolicyView) -> list[ToolCall] | Review:
    if not view.called("score_module"):
        return [ToolCall("score_module")]
    rubric = view.result("score_module")
    strengths = [
        f"{name} is complete" for name in ("coverage", "citations", "readability", "structure") if rubric[name] >= 25
    ]
    return Review(
        summary=f"Revision {rubric['revision']} scores {rubric['score']:.0f}/100.",
        feedback=list(rubric["feedback"]),
        strengths=strengths,
        # The offline model judges no entailment: the claims are measured offline when a version is assembled.
        claims=[],
    )
