"""The slices of stored artifacts that agents are shown: what they use, in few tokens.

A tool result is sent to the model on its turn and again on every later turn,
so a tool returns exactly what its agent works from, as compact JSON.
"""

from __future__ import annotations

import re
from typing import Any

from coursegen.shared.store.plans import ModuleBrief
from coursegen.shared.store.research import Research

_CITED = re.compile(r"^(.*) \[(\d+)\]$", re.S)


def cited_findings(research: Research) -> dict[str, list[str]]:
    """The findings per skill, each as the statement with its citation: ``"… [2]"``.

    Writers cite by ref, so they need the statements and their refs, never the passages.
    """
    by_skill: dict[str, list[str]] = {}
    for f in research.findings:
        by_skill.setdefault(f["skill"], []).append(f"{f['statement']} [{f['source_ref']}]")
    return by_skill


def split_cited(cited: str) -> tuple[str, int | None]:
    """A cited finding's statement and its ref (None when it carries no citation)."""
    match = _CITED.match(cited)
    return (match.group(1), int(match.group(2))) if match else (cited, None)


def brief_for_writers(brief: ModuleBrief) -> dict[str, Any]:
    """What a writer needs of the module brief."""
    return brief.model_dump(
        mode="json", include={"course_title", "target_role", "title", "skills", "objectives", "duration_weeks"}
    )
