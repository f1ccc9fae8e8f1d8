"""The enhancer's offline policy: examples, exercises and a quiz built from the findings."""

from __future__ import annotations

import hashlib

from coursegen.enhancer.agent import Enhancements, Exercise, QuizQuestion, WorkedExample
from coursegen.shared.models import PolicyView, ToolCall
from coursegen.shared.slices import split_cited

MISCONCEPTIONS = (
    "{skill} only matters for senior staff, so it can wait until a promotion.",
    "{skill} is learned once from a course and needs no practice afterwards.",
    "{skill} is best left to tools; judgement adds nothing to it.",
    "{skill} is a matter of talent, so deliberate practice does not change it.",
)


def _position(seed: str) -> int:
    """Where the right answer goes: spread over the options, the same every run."""
    return int(hashlib.sha256(seed.encode()).hexdigest(), 16) % 4


def enhance_policy(view: PolicyView) -> list[ToolCall] | Enhancements:
    if not view.called("get_approved_module"):
        return [ToolCall("get_approved_module")]
    module = view.result("get_approved_module")
    findings: dict[str, list[str]] = module["findings"]
    role = module.get("target_role") or "your role"
    examples, exercises, quiz = [], [], []
    for skill in module["skills"]:
        mine = findings.get(skill, [])
        steps = mine[:3] or [
            f"Name the outcome {skill} should produce.",
            "Do the work, then compare the result with that outcome.",
        ]
        if len(steps) < 2:
            steps.append("Check the outcome with a colleague and note what you would change.")
        examples.append(
            WorkedExample(
                title=f"{skill} on a real task",
                scenario=f"On the way to the {role} role, you are handed a task where {skill} decides the outcome.",
                steps=steps,
            )
        )
        criteria = [f"The note shows that you can {o[0].lower() + o[1:]}" for o in module["objectives"] if skill in o]
        exercises.append(
            Exercise(
                title=f"Practise {skill}",
                task=f"Apply {skill} to one piece of your current work and write a short note on what you did.",
                success_criteria=criteria or [f"The note shows {skill} applied to real work"],
            )
        )
        for cited in mine[:2]:
            statement, ref = split_cited(cited)
            wrong = [m.format(skill=skill) for m in MISCONCEPTIONS[:3]]
            answer = _position(statement)
            options = [*wrong[:answer], statement, *wrong[answer:]]
            quiz.append(
                QuizQuestion(
                    question=f"Which statement about {skill} do the course's sources support?",
                    options=options,
                    answer_index=answer,
                    explanation=f"The module's source [{ref}] says so; the other options are "
                    f"common misconceptions about {skill}.",
                )
            )
    if not quiz:
        skill = module["skills"][0]
        right = f"{skill} improves with deliberate practice on real work."
        wrong = [m.format(skill=skill) for m in MISCONCEPTIONS[:3]]
        quiz.append(
            QuizQuestion(
                question=f"Which statement about {skill} holds?",
                options=[right, *wrong],
                answer_index=0,
                explanation="The module's exercises rest on practice.",
            )
        )
    return Enhancements(examples=examples, exercises=exercises, quiz=quiz)
