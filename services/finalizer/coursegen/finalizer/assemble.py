"""Assembling a course from its stored parts: Markdown for people, JSON for machines."""

from __future__ import annotations

import re
from typing import Any

from coursegen.finalizer.agent import CourseFrame
from coursegen.shared.store import Connection, courses, plans


async def gather(conn: Connection, session_id: str) -> dict[str, Any]:
    """The stored plan and every module as quality let it through, with its research and enrichments."""
    plan = await plans.get_plan(conn, session_id)
    modules = await courses.passed_modules(conn, session_id)
    return {"plan": plan.model_dump(), "modules": [m.model_dump() for m in modules]}


def to_markdown(parts: dict[str, Any], frame: CourseFrame) -> str:
    plan = parts["plan"]
    profile = plan["employee_profile"] or {}
    out = [
        f"# {plan['course_title']}",
        f"_For {plan['employee_name']}, toward the {profile.get('target_role') or 'next'} role · "
        f"{plan['course_duration_weeks']} weeks · {plan['total_modules']} modules_",
        "## Overview",
        frame.overview,
        "## How to use this course",
        frame.how_to_use,
        "## Learning path",
        "\n".join(
            [
                "| Step | Module | Weeks | After |",
                "| --- | --- | --- | --- |",
                *[
                    f"| {s['step']} | {s['title']} | {s['weeks']} | "
                    f"{', '.join(str(p + 1) for p in s['prerequisites']) or '-'} |"
                    for s in plan["learning_path"]
                ],
            ]
        ),
    ]
    answer_key = []
    for m in parts["modules"]:
        n = m["module_index"] + 1
        out += [
            f"## Module {n}: {m['module_name']}",
            m["introduction"],
            "### Core content",
            m["core_content"],
            "### Putting it into practice",
            m["practical_applications"],
            "### Case studies",
            m["case_studies"],
            "### Worked examples",
        ]
        for ex in m["examples"]:
            out += [
                f"**{ex['title']}.** {ex['scenario']}",
                "\n".join(f"{i}. {s}" for i, s in enumerate(ex["steps"], 1)),
            ]
        out.append("### Exercises")
        for ex in m["exercises"]:
            out += [f"**{ex['title']}.** {ex['task']}", "\n".join(f"- [ ] {c}" for c in ex["success_criteria"])]
        out += ["### Diagram", f"```mermaid\n{m['diagram_mermaid']}\n```", f"_{m['alt_text']}_"]
        out += ["### Narration script", m["narration_script"], "### Quiz"]
        for qi, q in enumerate(m["quiz"], 1):
            options = "\n".join(f"   {chr(65 + i)}. {o}" for i, o in enumerate(q["options"]))
            out.append(f"{qi}. {q['question']}\n{options}")
            answer_key.append(f"- Module {n}, question {qi}: **{chr(65 + q['answer_index'])}**. {q['explanation']}")
        out += ["### Check your progress", m["assessments"]]
        if m["decision"] == "pass_with_warning":
            out.append(f"> This module passed review with a warning (score {float(m['score']):.0f}).")
        out.append("### Sources")
        out += [
            f"[{s['ref']}] {s['document']} — {s['heading']}: “{s['quote']}”"
            + (f" <{s['url']}>" if s.get("url") else "")
            for s in m["sources"]
        ]
    out += ["## Answer key", *answer_key, "## Closing", frame.closing]
    return "\n\n".join(out) + "\n"


def to_json(parts: dict[str, Any], frame: CourseFrame) -> dict[str, Any]:
    plan = parts["plan"]
    return {
        "title": plan["course_title"],
        "employee": plan["employee_name"],
        "weeks": plan["course_duration_weeks"],
        "prioritized_gaps": plan["prioritized_gaps"],
        "learning_path": plan["learning_path"],
        **frame.model_dump(),
        "modules": [
            {
                "index": m["module_index"],
                "title": m["module_name"],
                "objectives": m["module_spec"].get("objectives", []),
                "revision": m["revision"],
                "quality": {"decision": m["decision"], "score": float(m["score"])},
                "sections": {
                    k: m[k]
                    for k in ("introduction", "core_content", "practical_applications", "case_studies", "assessments")
                },
                "examples": m["examples"],
                "exercises": m["exercises"],
                "quiz": m["quiz"],
                "diagram_mermaid": m["diagram_mermaid"],
                "alt_text": m["alt_text"],
                "narration_script": m["narration_script"],
                "sources": m["sources"],
            }
            for m in parts["modules"]
        ],
    }


def word_count(markdown: str) -> int:
    return len(re.findall(r"\b\w+\b", markdown))
