"""Claims checked against the passages they cite, before a version is published.

Each section is split into sentences; every sentence that cites ``[n]`` is
compared with the quote of source ``n`` of its module. With a real model this is
an entailment judgement by the quality agent (``judged``: its verdict on each
claim, stored with its quality report, named by the model in the flag's
``method``). Otherwise this module's offline measure decides, and says so in
every flag's ``method``: the share of the sentence's
content words (lower-cased, stop words dropped, crude suffixes stripped) that
appear in the cited passage's quote and heading. It catches a citation to the
wrong source or a sentence that says something the passage does not mention;
it cannot tell a paraphrase that reverses the passage's meaning from a faithful one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

OFFLINE_METHOD = "offline lexical support (content-word overlap), not an entailment judgement"
SUPPORTED_AT = 0.5
"""At least half of the sentence's content words are in the cited passage: supported."""
WEAK_AT = 0.25
"""Between a quarter and a half: weakly supported. Below: unsupported."""
SECTIONS = ("introduction", "core_content", "practical_applications", "case_studies", "assessments")

Entailment = Literal["entailed", "neutral", "contradicted"]
ENTAILMENT_VERDICTS: dict[str, tuple[str, float]] = {
    "entailed": ("supported", 1.0),
    "neutral": ("weak", 0.5),
    "contradicted": ("unsupported", 0.0),
}
"""A model's entailment judgement as a claim's verdict and support."""

ClaimKey = tuple[int, str, str, int]
"""(module index, section, sentence, ref): one cited sentence's citation of one source."""


def entailment_method(model: str) -> str:
    return f"entailment judgement by the quality agent ({model})"


_CITATION = re.compile(r"\[(\d+)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
_STOP = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "one",
        "two",
        "use",
        "used",
        "using",
        "make",
        "makes",
        "made",
        "way",
        "ways",
    ]
)


@dataclass(frozen=True)
class Claim:
    """One cited sentence and how well its cited passage supports it."""

    module_index: int
    section: str
    sentence: str
    ref: int
    support: float
    """0..1: the share of the sentence's content words found in the passage."""
    verdict: str
    """supported, weak or unsupported."""
    method: str = OFFLINE_METHOD


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    return {_stem(w) for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOP and len(w) > 2}


def cited_sentences(text: str) -> list[tuple[str, list[int]]]:
    """Each sentence of ``text`` that cites a source, with the refs it cites."""
    out = []
    for raw in _SENTENCE_END.split(text):
        sentence = raw.strip(" -*#\t")
        refs = [int(n) for n in _CITATION.findall(sentence)]
        if refs:
            out.append((sentence, list(dict.fromkeys(refs))))
    return out


def support(sentence: str, passage: str) -> float:
    words = content_words(_CITATION.sub(" ", sentence))
    if not words:
        return 1.0  # nothing to check: a bare citation
    return len(words & content_words(passage)) / len(words)


def verdict(score: float) -> str:
    if score >= SUPPORTED_AT:
        return "supported"
    return "weak" if score >= WEAK_AT else "unsupported"


def cited_claims(module: dict[str, Any]) -> list[tuple[ClaimKey, str]]:
    """Every cited sentence of one module with the passage it cites (heading and quote; "" for a missing source),
    in a fixed order: what a judge is shown, and what its verdicts are matched back to."""
    sources = {int(s["ref"]): f"{s.get('heading', '')} {s.get('quote', '')}" for s in module.get("sources", [])}
    return [
        ((int(module["index"]), section, sentence, ref), sources.get(ref, ""))
        for section in SECTIONS
        for sentence, refs in cited_sentences(module.get("sections", {}).get(section, ""))
        for ref in refs
    ]


def check_module(module: dict[str, Any], judged: Mapping[ClaimKey, tuple[str, str]] | None = None) -> list[Claim]:
    """Every cited sentence of one module (as in a version's course JSON), judged against its source: by the
    model's entailment verdict where ``judged`` has one (verdict, method), by the offline measure otherwise."""
    claims = []
    for key, passage in cited_claims(module):
        index, section, sentence, ref = key
        if judged and key in judged:
            entailment, method = judged[key]
            verdict_, score = ENTAILMENT_VERDICTS[entailment]
            claims.append(Claim(index, section, sentence, ref, score, verdict_, method))
            continue
        score = support(sentence, passage) if passage else 0.0
        claims.append(Claim(index, section, sentence, ref, round(score, 3), verdict(score)))
    return claims


def check_course(course: dict[str, Any], judged: Mapping[ClaimKey, tuple[str, str]] | None = None) -> list[Claim]:
    """Every cited sentence of a course."""
    return [c for m in course.get("modules", []) for c in check_module(m, judged)]


def flags(course: dict[str, Any], judged: Mapping[ClaimKey, tuple[str, str]] | None = None) -> list[Claim]:
    """The claims a reviewer must look at: weak or unsupported."""
    return [c for c in check_course(course, judged) if c.verdict != "supported"]
