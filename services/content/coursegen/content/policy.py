"""The content writer's offline policy: sections composed from the findings, with citations.

A first draft treats the module's first skill in depth and the others only in
passing, the way a hurried writer would; the quality review notices the
uneven coverage and the revision completes it. Feedback is read, not assumed.
"""

from __future__ import annotations

from coursegen.content.agent import ModuleDraft
from coursegen.shared.errors import InvalidData
from coursegen.shared.models import PolicyView, ToolCall
from coursegen.shared.slices import split_cited

ENGLISH = ("en", "en-us", "en-gb", "english")
OFFLINE_NOTE = (
    "_Written by coursegen's offline model: composed from the stored plan and the knowledge base, "
    "without a language model._"
)


def content_policy(view: PolicyView) -> list[ToolCall] | ModuleDraft:
    needed = ("get_module_brief", "get_research_findings")
    if not all(view.called(t) for t in needed):
        return [ToolCall(t) for t in needed]
    brief = view.result("get_module_brief")
    if brief.get("language", "en").lower() not in ENGLISH:
        raise InvalidData(
            f"the course language is {brief['language']!r}, and the offline model writes English only: "
            "configure a real model (COURSEGEN_MODEL) or correct the employee's profile"
        )
    found: dict[str, list[str]] = view.result("get_research_findings")
    role = brief.get("target_role") or "your role"
    skills: list[str] = brief["skills"]
    by_skill = {s: found.get(s, []) for s in skills}
    asked = " ".join(brief.get("feedback", [])).lower()
    # The first draft goes deep on the lead skill only; a revision adds what the review names.
    deep = list(dict.fromkeys(skills[:1] + [s for s in skills if s.lower() in asked]))
    core: list[str] = []
    for skill in skills:
        items = by_skill[skill]
        if not items:
            core.append(f"### {skill}\n\nThe knowledge base holds no source on {skill} yet; ask your lead for one.")
            continue
        shown = items if skill in deep else items[:1]
        core.append(f"### {skill}\n\n" + " ".join(shown))
    practical = []
    for skill in skills:
        items = by_skill[skill]
        if items:
            lead = items[-1]
            practical.append(f"- **{skill}**: this week, pick one task where it applies and act on this: {lead}")
    cases = []
    for skill in skills:
        items = by_skill[skill]
        if len(items) >= 2 and skill in deep:
            cases.append(
                f"**{skill} in the {role} role.** A colleague asks for help with a piece of work that needs "
                f"{skill}. Start from what the sources say: {items[0]} "
                f"Then check the result against this: {items[1]}"
            )
    objectives = "\n".join(f"- {o}" for o in brief["objectives"])
    # The offline model cannot act on a person's free-text request; it says so where the reviewer will look.
    requested = "".join(
        f"\n\n_Revised after review. The reviewer asked: \u201c{c}\u201d (recorded by the offline model, which "
        "cannot rewrite prose to a request; a real model acts on it)._"
        for c in brief.get("reviewer_comments", [])
    )
    return ModuleDraft(
        title=brief["title"],
        introduction=(
            f"This module is part of *{brief['course_title']}*. It closes the gap in {', '.join(skills)} "
            f"that stands between you and the {role} role, over about {brief['duration_weeks']} week(s). "
            f"By the end of it you will be able to:\n\n{objectives}\n\n{OFFLINE_NOTE}{requested}"
        ),
        core_content="\n\n".join(core),
        practical_applications="\n".join(practical) or "Apply each skill in one real task this week.",
        case_studies="\n\n".join(cases) or _reflection_case(skills, role),
        assessments="\n".join(
            f"- Explain {s} to a colleague in your own words, and name one situation where you used it." for s in skills
        ),
        key_takeaways=[f"{s}: {split_cited(by_skill[s][0])[0]}" if by_skill[s] else s for s in skills],
    )


def _reflection_case(skills: list[str], role: str) -> str:
    """When the sources hold too little for a worked case: a case built from the learner's own work."""
    return (
        f"**Your own case.** Think of the last time your work toward the {role} role called for {', '.join(skills)}. "
        "Write down what you did, what happened, and what you would do differently after this module. "
        "Bring the note to your next one-to-one and compare it with a colleague's experience."
    )
