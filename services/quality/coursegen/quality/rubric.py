"""The quality rubric: measured by code, so the verdict does not rest on the model's say-so.

Four criteria, 25 points each: coverage of the module's gaps, citations that
resolve to stored sources, readability for a professional audience (Flesch
reading ease, textstat), and structure (every section has substance). A module
passes when it scores at least the pass mark and every gap is covered and
every citation resolves.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import textstat

MIN_WORDS = {
    "introduction": 40,
    "core_content": 60,
    "practical_applications": 20,
    "case_studies": 40,
    "assessments": 15,
}
MIN_CITED_PER_SKILL = 2
READABLE_FROM = 30.0
"""Flesch reading ease below this is hard going even for graduates."""


@dataclass
class Rubric:
    coverage: float
    citations: float
    readability: float
    structure: float
    flesch_reading_ease: float
    uncovered_skills: list[str] = field(default_factory=list)
    unknown_citations: list[int] = field(default_factory=list)
    thin_sections: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(self.coverage + self.citations + self.readability + self.structure, 2)

    @property
    def hard_checks_pass(self) -> bool:
        return not self.uncovered_skills and not self.unknown_citations

    def feedback(self) -> list[str]:
        notes = [
            f"coverage: {skill} has fewer than {MIN_CITED_PER_SKILL} cited statements; treat {skill} in depth "
            "with the findings on it"
            for skill in self.uncovered_skills
        ]
        if self.unknown_citations:
            notes.append(f"citations: {self.unknown_citations} resolve to no source; cite only listed sources")
        notes += [f"structure: the {name.replace('_', ' ')} section is too thin" for name in self.thin_sections]
        if self.flesch_reading_ease < READABLE_FROM:
            notes.append(
                f"readability: reading ease {self.flesch_reading_ease:.0f}; use shorter sentences and plainer words"
            )
        return notes

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "score": self.score}


def plain(text: str) -> str:
    """Text without Markdown marks and citations, for readability measures."""
    text = re.sub(r"\[\d+\]", "", text)
    text = re.sub(r"[#*_`>|-]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _skill_section(core: str, skill: str) -> str:
    match = re.search(rf"^###\s+{re.escape(skill)}\s*$(.*?)(?=^###\s|\Z)", core, flags=re.M | re.S | re.I)
    return match.group(1) if match else ""


def measure(
    sections: dict[str, str], skills: list[str], sources: list[dict[str, Any]], findings: list[dict[str, Any]]
) -> Rubric:
    refs = {int(s["ref"]) for s in sources}
    text = "\n\n".join(sections.values())
    cited = [int(n) for n in re.findall(r"\[(\d+)\]", text)]
    unknown = sorted({n for n in cited if n not in refs})
    citations = 25.0 if cited and not unknown else (25.0 * (len(cited) - len(unknown)) / len(cited) if cited else 0.0)
    if not refs:
        citations = 25.0  # nothing to cite: the writer cannot be faulted for it
    researched = {f["skill"] for f in findings}
    uncovered = [
        s
        for s in skills
        if s in researched
        and len(re.findall(r"\[\d+\]", _skill_section(sections["core_content"], s))) < MIN_CITED_PER_SKILL
    ]
    coverage = 25.0 * (len(skills) - len(uncovered)) / len(skills) if skills else 25.0
    thin = [name for name, minimum in MIN_WORDS.items() if len(plain(sections.get(name, "")).split()) < minimum]
    structure = 25.0 * (len(MIN_WORDS) - len(thin)) / len(MIN_WORDS)
    ease = float(textstat.flesch_reading_ease(plain(text))) if plain(text) else 0.0
    readability = 25.0 if ease >= READABLE_FROM else 25.0 * max(0.0, ease) / READABLE_FROM
    return Rubric(
        coverage=round(coverage, 2),
        citations=round(citations, 2),
        readability=round(readability, 2),
        structure=round(structure, 2),
        flesch_reading_ease=round(ease, 1),
        uncovered_skills=uncovered,
        unknown_citations=unknown,
        thin_sections=thin,
    )
