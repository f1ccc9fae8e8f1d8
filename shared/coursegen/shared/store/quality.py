"""Quality reports (``quality_reports``): quality's verdict on each module revision."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from coursegen.shared.errors import InvalidData
from coursegen.shared.store import content
from coursegen.shared.store._pool import Connection


class Decision(StrEnum):
    PASS = "pass"
    REVISE = "revise"
    PASS_WITH_WARNING = "pass_with_warning"


class QualityReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    score: float
    decision: Decision
    rubric: dict[str, Any]
    feedback: list[str]

    @property
    def passed(self) -> bool:
        return self.decision is not Decision.REVISE


async def insert_report(
    conn: Connection, *, session_id: str, module_index: int, revision: int, job_id: uuid.UUID, report: QualityReport
) -> None:
    """Store the verdict, and mark the draft it judged accordingly, in the caller's transaction."""
    await conn.execute(
        """
        INSERT INTO quality_reports (session_id, module_index, revision, job_id, score, passed, decision, rubric,
                                     feedback)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        """,
        session_id,
        module_index,
        revision,
        job_id,
        report.score,
        report.passed,
        str(report.decision),
        report.rubric,
        report.feedback,
    )
    await content.review_draft(
        conn,
        session_id,
        module_index,
        revision,
        content.DraftStatus.APPROVED if report.passed else content.DraftStatus.REVISION,
    )


async def get_report(conn: Connection, session_id: str, module_index: int, revision: int) -> QualityReport | None:
    row = await conn.fetchrow(
        "SELECT score, decision, rubric, feedback FROM quality_reports "
        "WHERE session_id = $1 AND module_index = $2 AND revision = $3",
        session_id,
        module_index,
        revision,
    )
    return (
        QualityReport(
            score=float(row["score"]), decision=row["decision"], rubric=row["rubric"], feedback=row["feedback"]
        )
        if row
        else None
    )


async def passed_revision(conn: Connection, session_id: str, module_index: int) -> int:
    """The revision of a module that quality let through."""
    revision = await conn.fetchval(
        "SELECT max(revision) FROM quality_reports "
        "WHERE session_id = $1 AND module_index = $2 AND decision <> 'revise'",
        session_id,
        module_index,
    )
    if revision is None:
        raise InvalidData(f"module {module_index} of session {session_id} has not passed quality")
    return int(revision)


async def claim_judgements(conn: Connection, session_id: str) -> list[dict[str, Any]]:
    """The quality agent's entailment judgements on the cited sentences of each module's passed revision
    (none where the offline model reviewed it): each with module_index, section, sentence, ref, verdict, method."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT ON (module_index) module_index, coalesce(rubric -> 'claims', '[]'::jsonb) AS claims
          FROM quality_reports
         WHERE session_id = $1 AND decision <> 'revise'
         ORDER BY module_index, revision DESC
        """,
        session_id,
    )
    return [{**c, "module_index": r["module_index"]} for r in rows for c in r["claims"] if isinstance(c, dict)]
