"""The course page's view: the learning path with the gap each module closes, sections with linked citations,
the quiz (scored here), the diagram as sanitized SVG."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lxml import etree
from markdown_it import MarkdownIt
from markupsafe import Markup

from coursegen.shared.store.gateway_reads import CourseExtras, CourseRecord

_SVG_DROP = {"script", "foreignObject", "iframe", "object", "embed"}
_CITATION = re.compile(r"\[(\d+)\]")


def sanitize_svg(svg: str) -> Markup:
    """The SVG without scripts, event handlers, foreign content or outside links; empty when it does not parse."""
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, huge_tree=False)
        root = etree.fromstring(svg.encode(), parser)
    except (etree.XMLSyntaxError, ValueError):
        return Markup("")
    for element in list(root.iter()):
        if not isinstance(element.tag, str):
            continue
        local = etree.QName(element).localname
        if local in _SVG_DROP:
            parent = element.getparent()
            if parent is not None:
                parent.remove(element)
            continue
        for name in list(element.attrib):
            local_attr = etree.QName(name).localname.lower()
            value = element.attrib[name].strip().lower()
            if (
                local_attr.startswith("on")
                or (local_attr == "href" and not value.startswith("#"))
                or "javascript:" in value
                or "url(http" in value.replace(" ", "")
            ):
                del element.attrib[name]
    root.set("role", "img")
    return Markup(etree.tostring(root, encoding="unicode"))


_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False})


def paragraphs(text: str, module_index: int, refs: set[str]) -> Markup:
    """Markdown (raw HTML in it is escaped) as HTML, each ``[n]`` that names a source a link to it."""
    html = _MARKDOWN.render(text or "")

    def link(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref not in refs:
            return match.group(0)
        return f'<a class="cite" href="#m{module_index}-src{ref}" aria-label="source {ref}">[{ref}]</a>'

    return Markup(_CITATION.sub(link, html))


def _gap_reason(skills: list[str], gaps: list[dict[str, Any]]) -> list[str]:
    by_name = {str(g.get("skill", "")).casefold(): g for g in gaps}
    reasons = []
    for skill in skills:
        gap = by_name.get(skill.casefold())
        if gap is None:
            reasons.append(skill)
            continue
        reasons.append(
            f"{gap['skill']}: level {gap['current_level']} of {gap['required_level']} required "
            f"({gap['severity']} gap, importance {gap['importance']}/5)"
        )
    return reasons


def course_context(course: CourseRecord, extras: CourseExtras) -> dict[str, Any]:
    data = course.course
    gaps = data.get("prioritized_gaps") or []
    planned = {m.get("module_index", i): m for i, m in enumerate(extras.planned_modules)}
    modules = []
    for m in data.get("modules", []):
        index = m["index"]
        refs = {str(s.get("ref")) for s in m.get("sources", [])}
        plan = planned.get(index, {})
        modules.append(
            {
                **m,
                "number": index + 1,
                "skills": plan.get("skills", []),
                "objectives": plan.get("objectives", []),
                "why": _gap_reason(plan.get("skills", []), gaps),
                "html": {k: paragraphs(v, index, refs) for k, v in m.get("sections", {}).items()},
                "svg": sanitize_svg(extras.diagrams_svg[index]) if index in extras.diagrams_svg else Markup(""),
            }
        )
    path = []
    for step in data.get("learning_path") or []:
        plan = planned.get(step.get("module_index"), {})
        path.append({**step, "skills": plan.get("skills", []), "why": _gap_reason(plan.get("skills", []), gaps)})
    minutes = (
        sum(
            len(re.findall(r"\w+", " ".join(str(v) for v in m.get("sections", {}).values())))
            for m in data.get("modules", [])
        )
        // 200
        + sum(len(m.get("quiz", [])) for m in data.get("modules", [])) * 1
    )
    return {"course": course, "data": data, "modules": modules, "path": path, "gaps": gaps, "reading_minutes": minutes}


@dataclass(frozen=True)
class QuestionResult:
    number: int
    question: str
    chosen: str | None
    correct: str
    right: bool
    explanation: str


@dataclass(frozen=True)
class QuizResult:
    module_index: int
    module_title: str
    score: int
    total: int
    questions: list[QuestionResult]


def score_quiz(course: CourseRecord, module_index: int, answers: dict[str, str]) -> QuizResult | None:
    """Score the answers (form fields ``q<n>`` = option index) of one module's quiz; None for no such module."""
    module = next((m for m in course.course.get("modules", []) if m.get("index") == module_index), None)
    if module is None:
        return None
    results = []
    for n, q in enumerate(module.get("quiz", [])):
        options = [str(o) for o in q.get("options", [])]
        raw = answers.get(f"q{n}")
        chosen = int(raw) if raw is not None and raw.isdigit() and int(raw) < len(options) else None
        answer = int(q.get("answer_index", 0))
        results.append(
            QuestionResult(
                number=n + 1,
                question=str(q.get("question", "")),
                chosen=options[chosen] if chosen is not None else None,
                correct=options[answer] if answer < len(options) else "",
                right=chosen == answer,
                explanation=str(q.get("explanation", "")),
            )
        )
    return QuizResult(
        module_index=module_index,
        module_title=str(module.get("title", "")),
        score=sum(r.right for r in results),
        total=len(results),
        questions=results,
    )
