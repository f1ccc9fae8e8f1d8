"""The finalizer's offline policy."""

from __future__ import annotations

from coursegen.finalizer.agent import CourseFrame
from coursegen.shared.models import PolicyView, ToolCall


def frame_policy(view: PolicyView) -> list[ToolCall] | CourseFrame:
    if not view.called("get_course_outline"):
        return [ToolCall("get_course_outline")]
    outline = view.result("get_course_outline")
    modules = outline["modules"]
    path = " → ".join(m["title"] for m in modules)
    warned = [m["title"] for m in modules if m["passed_with_warning"]]
    closing = (
        f"When you have finished all {len(modules)} modules, review your notes with your lead and agree on "
        "the next step toward the role."
    )
    if warned:
        closing += f" Note: {', '.join(warned)} passed review with a warning; ask your lead for extra material."
    return CourseFrame(
        overview=f"{outline['summary']} The modules build on each other: {path}.",
        how_to_use=(
            f"Plan about {outline['weeks']} week(s). Take the modules in order; in each, read the core content, "
            "work through the example, do the exercise on real work in the same week, then take the quiz."
        ),
        closing=closing,
    )
