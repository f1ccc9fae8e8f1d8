"""The planner's offline policy: a deterministic plan from the gap analysis."""

from __future__ import annotations

from typing import Any

from coursegen.planner.agent import CoursePlan, PlannedModule, SkillGap
from coursegen.shared.models import PolicyView, ToolCall

LEVELS = {1: "awareness", 2: "working knowledge", 3: "independent practice", 4: "advanced practice", 5: "expert"}
SEVERITY_ORDER = ("critical", "high", "medium", "low")


def _group(gaps: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Critical and high gaps get a module each; lesser ones share a module two by two."""
    groups: list[list[dict[str, Any]]] = []
    pending: list[dict[str, Any]] = []
    for gap in gaps:
        if gap["severity"] in ("critical", "high"):
            groups.append([gap])
        else:
            pending.append(gap)
            if len(pending) == 2:
                groups.append(pending)
                pending = []
    if pending:
        groups.append(pending)
    return groups


def plan_policy(view: PolicyView) -> list[ToolCall] | CoursePlan:
    needed = ("get_employee_profile", "analyze_skill_gaps", "get_reviewer_comments")
    if not all(view.called(t) for t in needed):
        return [ToolCall(t) for t in needed]
    profile = view.result("get_employee_profile")
    analysis = view.result("analyze_skill_gaps")
    gaps: list[dict[str, Any]] = analysis["gaps"]
    role = analysis["target_role"] or profile["current_role"]
    modules = []
    for index, group in enumerate(_group(gaps)):
        skills = [g["skill"] for g in group]
        modules.append(
            PlannedModule(
                title=" and ".join(skills) + f" for the {role}",
                skills=skills,
                objectives=[
                    f"Apply {g['skill']} at the level of {LEVELS.get(g['required_level'], 'practice')} "
                    f"(level {g['required_level']}, from {g['current_level']}) in the {role} role"
                    for g in group
                ],
                duration_weeks=min(12, sum(max(1, g["required_level"] - g["current_level"]) for g in group)),
                prerequisites=[index - 1] if index > 0 else [],
                research_queries=[q for g in group for q in (g["skill"], f"{g['skill']} practice")],
                priority=min((g["severity"] for g in group), key=SEVERITY_ORDER.index),
            )
        )
    top = ", ".join(g["skill"] for g in gaps[:2])
    # The offline model cannot read free text: it keeps the comments with the plan, for the reviewer to see.
    comments: list[str] = view.result("get_reviewer_comments")["comments"]
    answered = f" Re-planned after review: {' / '.join(comments)}" if comments else ""
    return CoursePlan(
        course_title=f"Toward {role}: {top}" if gaps else f"{role}: no gaps to close",
        summary=(
            f"A {sum(m.duration_weeks for m in modules)}-week course for {profile['name']} "
            f"({profile['position'] or profile['current_role']}), closing {len(gaps)} skill gap(s) "
            f"toward the {role} role, most severe first.{answered}"
        ),
        prioritized_gaps=[SkillGap(**g) for g in gaps],
        modules=modules,
        course_duration_weeks=sum(m.duration_weeks for m in modules),
    )
