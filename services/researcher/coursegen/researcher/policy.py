"""The researcher's offline policy: findings are sentences of the passages found."""

from __future__ import annotations

import re

from coursegen.researcher.agent import Finding, ResearchFindings, Source
from coursegen.shared.models import PolicyView, ToolCall


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 5]


def research_policy(view: PolicyView) -> list[ToolCall] | ResearchFindings:
    if not view.called("get_module_sources"):
        return [ToolCall("get_module_sources")]
    module = view.result("get_module_sources")
    skills: list[str] = module["skills"]
    sources: list[Source] = []
    findings: list[Finding] = []
    by_passage: dict[str, int] = {}
    missing = []
    for skill in skills:
        hits = [h for h in module["passages"].get(skill, []) if sentences(h["text"])]
        if not hits:
            missing.append(skill)
        for hit in hits:
            ref = by_passage.get(hit["passage_id"])
            said = sentences(hit["text"])
            if ref is None:
                ref = len(sources) + 1
                by_passage[hit["passage_id"]] = ref
                sources.append(
                    Source(
                        ref=ref,
                        passage_id=hit["passage_id"],
                        document=hit["document"],
                        heading=hit["heading"],
                        quote=said[0],
                    )
                )
            findings.extend(Finding(skill=skill, statement=s, source_ref=ref) for s in said[:3])
    covered = [s for s in skills if s not in missing]
    summary = f"{len(findings)} findings from {len(sources)} passages on {', '.join(covered) or 'nothing'}."
    if missing:
        summary += f" The knowledge base has nothing on {', '.join(missing)}."
    return ResearchFindings(summary=summary, findings=findings, sources=sources)
