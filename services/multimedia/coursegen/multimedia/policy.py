"""The multimedia offline policy: the learning flow as a flowchart, described and narrated."""

from __future__ import annotations

import re

from coursegen.multimedia.agent import Media
from coursegen.shared.models import PolicyView, ToolCall


def label(text: str, limit: int = 60) -> str:
    """Text safe inside a quoted Mermaid label."""
    text = re.sub(r'["\[\]{}()<>|#;`]', " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def media_policy(view: PolicyView) -> list[ToolCall] | Media:
    if not view.called("get_module_outline"):
        return [ToolCall("get_module_outline")]
    outline = view.result("get_module_outline")
    skills: list[str] = outline["skills"]
    lines = ["flowchart LR", f'    start["{label(outline["title"])}"]']
    for i, skill in enumerate(skills):
        lines += [
            f'    learn{i}["Learn: {label(skill)}"]',
            f'    practise{i}["Practise {label(skill)} at work"]',
            f"    start --> learn{i} --> practise{i} --> quiz",
        ]
    lines.append('    quiz["Quiz and reflection"] --> done["Ready for the next module"]')
    diagram = "\n".join(lines)
    alt = (
        f"A left-to-right flowchart for the module {outline['title']}. From the module start, "
        + "; ".join(f"a path learns {s}, then practises it at work" for s in skills)
        + "; every path ends in the quiz and reflection, which leads on to the next module."
    )
    takeaways = " ".join(f"{t}." if not t.endswith(".") else t for t in outline["key_takeaways"][:3])
    narration = (
        f"Welcome to {outline['title']}. Over the next {outline['duration_weeks']} week(s) you will work on "
        f"{', '.join(skills)}, the skills that matter most on your way to the {outline['target_role']} role. "
        f"Here is what to keep in mind. {takeaways} "
        "Work through each skill in turn: read the core content, try it on a real task the same week, and note "
        "what happened. When you have practised every skill, take the quiz and compare your notes with a "
        "colleague. Then you are ready for the next module."
    )
    return Media(diagram_mermaid=diagram, alt_text=alt, narration_script=narration)
