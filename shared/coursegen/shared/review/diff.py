"""Two versions of a course side by side: what changed in each module's sections, quiz and diagram.

A pure function of two versions' course JSON; the review page renders it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from coursegen.shared.review.claims import SECTIONS


@dataclass(frozen=True)
class SectionChange:
    section: str
    before: str
    after: str
    unified: list[str]
    """A unified diff of the section, line by line."""


@dataclass(frozen=True)
class ModuleDiff:
    index: int
    title_before: str | None
    title_after: str | None
    status: str
    """added, removed, changed or unchanged."""
    sections: list[SectionChange] = field(default_factory=list)
    quiz_added: list[str] = field(default_factory=list)
    """Questions only in the later version."""
    quiz_removed: list[str] = field(default_factory=list)
    diagram_changed: bool = False
    diagram_unified: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class VersionDiff:
    before: int
    after: int
    title_changed: bool
    modules: list[ModuleDiff]

    @property
    def changed_modules(self) -> list[int]:
        return [m.index for m in self.modules if m.status != "unchanged"]


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _module_diff(index: int, a: dict[str, Any] | None, b: dict[str, Any] | None) -> ModuleDiff:
    if a is None or b is None:
        return ModuleDiff(
            index=index,
            title_before=a["title"] if a else None,
            title_after=b["title"] if b else None,
            status="added" if a is None else "removed",
        )
    sections = []
    for name in SECTIONS:
        before, after = a["sections"].get(name, ""), b["sections"].get(name, "")
        if before != after:
            unified = list(difflib.unified_diff(_lines(before), _lines(after), "before", "after", lineterm=""))
            sections.append(SectionChange(name, before, after, unified))
    questions_a = [q["question"] for q in a.get("quiz", [])]
    questions_b = [q["question"] for q in b.get("quiz", [])]
    quiz_changed = a.get("quiz", []) != b.get("quiz", [])
    diagram_a, diagram_b = a.get("diagram_mermaid", ""), b.get("diagram_mermaid", "")
    diagram_changed = diagram_a != diagram_b
    changed = bool(sections) or quiz_changed or diagram_changed or a["title"] != b["title"]
    return ModuleDiff(
        index=index,
        title_before=a["title"],
        title_after=b["title"],
        status="changed" if changed else "unchanged",
        sections=sections,
        quiz_added=[q for q in questions_b if q not in questions_a],
        quiz_removed=[q for q in questions_a if q not in questions_b],
        diagram_changed=diagram_changed,
        diagram_unified=list(difflib.unified_diff(_lines(diagram_a), _lines(diagram_b), "before", "after", lineterm=""))
        if diagram_changed
        else [],
    )


def diff_versions(before: int, a: dict[str, Any], after: int, b: dict[str, Any]) -> VersionDiff:
    """What changed from version ``before`` (course JSON ``a``) to version ``after`` (``b``), module by module."""
    mods_a = {m["index"]: m for m in a.get("modules", [])}
    mods_b = {m["index"]: m for m in b.get("modules", [])}
    return VersionDiff(
        before=before,
        after=after,
        title_changed=a.get("title") != b.get("title"),
        modules=[_module_diff(i, mods_a.get(i), mods_b.get(i)) for i in sorted(mods_a.keys() | mods_b.keys())],
    )
