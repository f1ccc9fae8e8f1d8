"""Claim checks and version diffs: pure functions a reviewer relies on."""

from __future__ import annotations

import copy
from typing import Any

from coursegen.shared.review.claims import OFFLINE_METHOD, check_module, flags
from coursegen.shared.review.diff import diff_versions


def module(
    index: int, core: str, *, quiz: list[dict[str, Any]] | None = None, diagram: str = "graph TD; A-->B"
) -> dict[str, Any]:
    return {
        "index": index,
        "title": f"Module {index}",
        "objectives": ["Review code"],
        "sections": {"introduction": "Intro.", "core_content": core, "practical_applications": "",
                     "case_studies": "", "assessments": ""},
        "quiz": [{"question": "What is a review for?", "options": ["a", "b"], "answer_index": 0}],
        "diagram_mermaid": "graph TD; A-->B",
        "sources": [
            {"ref": 1, "heading": "Code review", "quote": "Reviewers check that every change carries a test."},
            {"ref": 2, "heading": "Git", "quote": "Small commits make history easy to bisect."},
        ],
    }  # fmt: skip


def test_a_sentence_is_judged_against_the_passage_it_cites() -> None:
    core = (
        "Reviewers check that every change carries a test [1]. "
        "Small commits make history easy to bisect [1]. "
        "Quantum annealing accelerates payroll forecasting [2]. "
        "Something cites a source that is not there [7]."
    )
    judged = {(c.sentence.split()[0], c.ref): c.verdict for c in check_module(module(0, core))}
    assert judged[("Reviewers", 1)] == "supported"
    assert judged[("Small", 1)] == "unsupported"  # true, but not what source 1 says
    assert judged[("Quantum", 2)] == "unsupported"
    assert judged[("Something", 7)] == "unsupported"
    found = flags({"modules": [module(0, core)]})
    assert len(found) == 3 and all(f.method == OFFLINE_METHOD for f in found)
    assert "not an entailment judgement" in OFFLINE_METHOD


def test_sentences_without_citations_are_not_claims() -> None:
    assert check_module(module(0, "No citation here. None here either.")) == []


def test_the_diff_names_the_changed_module_its_sections_quiz_and_diagram() -> None:
    a = {"title": "Course", "modules": [module(0, "Same [1]."), module(1, "Old text [1].")]}
    b = copy.deepcopy(a)
    b["modules"][1]["sections"]["core_content"] = "New text [1]."
    b["modules"][1]["quiz"] = [{"question": "Why test?", "options": ["a"], "answer_index": 0}]
    b["modules"][1]["diagram_mermaid"] = "graph TD; A-->C"
    b["modules"].append(module(2, "Added [1]."))
    diff = diff_versions(1, a, 2, b)
    assert diff.changed_modules == [1, 2]
    changed = diff.modules[1]
    assert [s.section for s in changed.sections] == ["core_content"]
    assert "-Old text [1]." in changed.sections[0].unified and "+New text [1]." in changed.sections[0].unified
    assert changed.quiz_added == ["Why test?"] and changed.quiz_removed == ["What is a review for?"]
    assert changed.diagram_changed and "+graph TD; A-->C" in changed.diagram_unified
    assert diff.modules[2].status == "added" and diff.modules[0].status == "unchanged"
