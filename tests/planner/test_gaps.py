"""The skill-gap analysis: which gaps, how severe, in what order."""

from __future__ import annotations

from coursegen.planner.gaps import RequiredSkill, rank_gaps, severity_of


def test_gaps_are_ordered_by_shortfall_times_importance() -> None:
    required = [
        RequiredSkill("Git", required_level=3, importance=2),  # 1 short × 2 = 2
        RequiredSkill("SQL", required_level=4, importance=5),  # 2 short × 5 = 10
        RequiredSkill("Testing", required_level=3, importance=3),  # 2 short × 3 = 6
    ]
    gaps = rank_gaps(required, {"Git": 2, "SQL": 2, "Testing": 1})

    assert [(g.skill, g.priority_score, g.severity) for g in gaps] == [
        ("SQL", 10.0, "high"),
        ("Testing", 6.0, "medium"),
        ("Git", 2.0, "low"),
    ]
    assert [(g.current_level, g.required_level) for g in gaps] == [(2, 4), (1, 3), (2, 3)]


def test_a_missing_skill_counts_one_level_more() -> None:
    required = [RequiredSkill("Mentoring", 3, 4), RequiredSkill("Code Review", 3, 4)]
    gaps = rank_gaps(required, {"Code Review": 1})

    # Both are short of level 3, but with nothing to build on Mentoring scores (3 + 1) × 4.
    assert [(g.skill, g.current_level, g.priority_score, g.severity) for g in gaps] == [
        ("Mentoring", 0, 16.0, "critical"),
        ("Code Review", 1, 8.0, "high"),
    ]


def test_skill_names_match_whatever_their_case() -> None:
    required = [RequiredSkill("Data Visualization", 3, 4), RequiredSkill("SQL", 2, 3)]
    gaps = rank_gaps(required, {"data visualization": 3, "sql": 1})

    assert [(g.skill, g.current_level) for g in gaps] == [("SQL", 1)]


def test_met_or_exceeded_skills_are_no_gap() -> None:
    required = [RequiredSkill("Python", 3, 5), RequiredSkill("Git", 2, 3)]

    assert rank_gaps(required, {"Python": 3, "Git": 5}) == []
    assert rank_gaps([], {"Python": 1}) == []


def test_ties_go_to_the_more_important_skill_then_the_name() -> None:
    required = [
        RequiredSkill("Zeta", 2, 2),  # (2 + 1) × 2 = 6 (missing)
        RequiredSkill("Beta", 3, 3),  # 2 × 3 = 6
        RequiredSkill("Alpha", 3, 3),  # 2 × 3 = 6
    ]
    gaps = rank_gaps(required, {"Beta": 1, "Alpha": 1})

    assert [g.skill for g in gaps] == ["Alpha", "Beta", "Zeta"]


def test_severity_bands() -> None:
    assert [severity_of(s) for s in (12, 11.9, 8, 7.9, 4, 3.9, 0)] == [
        "critical",
        "high",
        "high",
        "medium",
        "medium",
        "low",
        "low",
    ]
