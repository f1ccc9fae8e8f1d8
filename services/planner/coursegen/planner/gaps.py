"""Skill-gap analysis: what the target role requires against what the employee has."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class RequiredSkill:
    skill: str
    required_level: int
    importance: int


@dataclass(frozen=True)
class Gap:
    skill: str
    current_level: int
    required_level: int
    importance: int
    severity: str
    priority_score: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def severity_of(score: float) -> str:
    if score >= 12:
        return "critical"
    if score >= 8:
        return "high"
    if score >= 4:
        return "medium"
    return "low"


def rank_gaps(required: list[RequiredSkill], current: dict[str, int]) -> list[Gap]:
    """Every required skill the employee lacks or has below level, most urgent first.

    The score weighs how far below the level the employee is by how much the
    role depends on the skill; a skill missing entirely counts one level more,
    since there is nothing to build on. Ties go to the more important skill,
    then to the name, so the ranking is stable.
    """
    levels = {name.casefold(): level for name, level in current.items()}
    gaps = []
    for req in required:
        have = levels.get(req.skill.casefold(), 0)
        shortfall = req.required_level - have
        if shortfall <= 0:
            continue
        score = float((shortfall + (1 if have == 0 else 0)) * req.importance)
        gaps.append(
            Gap(
                skill=req.skill,
                current_level=have,
                required_level=req.required_level,
                importance=req.importance,
                severity=severity_of(score),
                priority_score=score,
            )
        )
    return sorted(gaps, key=lambda g: (-g.priority_score, -g.importance, g.skill))
