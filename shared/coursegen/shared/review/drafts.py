"""Storing a draft version of a course, with its module fingerprints and claim flags."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from coursegen.shared.review import claims
from coursegen.shared.store import Connection, quality, versions
from coursegen.shared.store.runs import CourseRun

PIPELINE_ACTOR = "coursegen"
"""Who made a version the pipeline assembled (a person's versions name the person)."""


def module_fingerprint(module: dict[str, Any]) -> str:
    """What a learner's progress on a module is tied to: its objectives (order and whitespace aside)."""
    objectives = sorted(" ".join(str(o).split()).lower() for o in module.get("objectives", []))
    return hashlib.sha256(json.dumps(objectives).encode()).hexdigest()[:32]


def fingerprints(course: dict[str, Any]) -> list[str]:
    return [module_fingerprint(m) for m in course.get("modules", [])]


def claim_flags(course: dict[str, Any], judgements: list[dict[str, Any]] | None = None) -> list[versions.ClaimFlag]:
    """The weak and unsupported claims of a course: by the quality agent's entailment judgement where it made one
    (``judgements``, as stored with its reports), by the offline measure elsewhere."""
    judged: dict[claims.ClaimKey, tuple[str, str]] = {
        (int(j["module_index"]), str(j["section"]), str(j["sentence"]), int(j["ref"])): (
            str(j["verdict"]),
            str(j["method"]),
        )
        for j in judgements or []
        if j.get("verdict") in claims.ENTAILMENT_VERDICTS
    }
    return [
        versions.ClaimFlag(
            module_index=c.module_index,
            section=c.section,
            sentence=c.sentence,
            ref=c.ref,
            support=c.support,
            verdict=c.verdict,
            method=c.method,
        )
        for c in claims.flags(course, judged)
    ]


async def store_draft(
    conn: Connection,
    run: CourseRun | versions.Version,
    *,
    round: int | None,
    origin: versions.Origin,
    course: dict[str, Any],
    markdown: str,
    created_by: str = PIPELINE_ACTOR,
    based_on: int | None = None,
) -> versions.Version:
    """A new draft version of the course of a run's employee (or of an existing version's course),
    checked for unsupported claims."""
    employee_id = run.employee_id if isinstance(run, CourseRun) else await versions.employee_of(conn, run)
    return await versions.insert_version(
        conn,
        versions.NewVersion(
            company_id=run.company_id,
            employee_id=employee_id,
            session_id=run.session_id,
            round=round,
            origin=origin,
            title=str(course.get("title", "")),
            course=course,
            markdown=markdown,
            module_fingerprints=fingerprints(course),
            created_by=created_by,
            based_on=based_on,
        ),
        claim_flags(course, await quality.claim_judgements(conn, run.session_id)),
    )
