"""The quality service: score each draft; below the pass mark it goes back to content, a bounded number of times."""

from __future__ import annotations

import asyncio
import dataclasses

import textstat

from coursegen.quality.agent import Review, quality_agent
from coursegen.quality.policy import review_policy
from coursegen.quality.rubric import Rubric
from coursegen.quality.tools import draft_claims, measure_draft
from coursegen.shared.errors import InvalidData
from coursegen.shared.events import Event, ModuleHandoff
from coursegen.shared.review.claims import entailment_method
from coursegen.shared.service import Runtime
from coursegen.shared.stage import RunInfo, StageContext, StageSpec, claim_unless, stage_service
from coursegen.shared.store import Connection, quality
from coursegen.shared.store.quality import Decision
from coursegen.shared.subjects import handoff_subject

PASS_MARK = 80.0
MAX_REVISIONS = 2


def decide(
    rubric: Rubric, revision: int, *, pass_mark: float = PASS_MARK, max_revisions: int = MAX_REVISIONS
) -> Decision:
    """pass, revise, or pass_with_warning once the revisions are spent."""
    if rubric.score >= pass_mark and rubric.hard_checks_pass:
        return Decision.PASS
    return Decision.REVISE if revision < max_revisions else Decision.PASS_WITH_WARNING


async def stored(conn: Connection, h: ModuleHandoff) -> bool:
    return await quality.get_report(conn, h.session_id, h.module_index, h.revision) is not None


async def store(conn: Connection, ctx: StageContext[ModuleHandoff], review: Review, info: RunInfo) -> None:
    h, run = ctx.handoff, ctx.run
    # The verdict is the code's, measured again from the stored draft whatever the model wrote.
    rubric = await measure_draft(conn, run.session_id, h.module_index, h.revision)
    decision = decide(rubric, h.revision)
    # Every measured problem reaches the writer.
    feedback = list(dict.fromkeys([*rubric.feedback(), *review.feedback]))
    if decision is Decision.PASS_WITH_WARNING:
        feedback.insert(0, f"warning: passed after {h.revision} revision(s) below the pass mark ({rubric.score:.0f})")
    # Each judgement is matched to its claim by number, as cited_claims numbered them from the stored draft.
    cited = await draft_claims(conn, run.session_id, h.module_index, h.revision) if review.claims else []
    method = entailment_method(ctx.settings.model_for("quality"))
    judged = [
        {"section": key[1], "sentence": key[2], "ref": key[3], "verdict": j.verdict, "method": method}
        for j in review.claims
        if 0 <= j.claim < len(cited)
        for key in [cited[j.claim][0]]
    ]
    await quality.insert_report(
        conn,
        session_id=run.session_id,
        module_index=h.module_index,
        revision=h.revision,
        job_id=run.job_id,
        report=quality.QualityReport(
            score=rubric.score,
            decision=decision,
            rubric={**rubric.as_dict(), "summary": review.summary, "strengths": review.strengths, "claims": judged},
            feedback=feedback,
        ),
    )


async def route(conn: Connection, h: ModuleHandoff) -> list[tuple[str, Event]]:
    report = await quality.get_report(conn, h.session_id, h.module_index, h.revision)
    if report is None:
        raise InvalidData(f"no quality report for {h.session_id} module {h.module_index} revision {h.revision}")
    if report.decision is Decision.REVISE:
        return [(handoff_subject("content"), h.next("content", revision=h.revision + 1))]
    return [(handoff_subject("enhancer"), h.next("enhancer"))]


spec = StageSpec[ModuleHandoff, Review](
    name="quality",
    handoff=ModuleHandoff,
    agent=quality_agent,
    policy=review_policy,
    claim=claim_unless(stored),
    store=store,
    route=route,
)


async def warm_up(runtime: Runtime) -> None:
    """Load textstat's pronunciation dictionary at start (seconds), not while the first draft waits."""
    await asyncio.to_thread(textstat.flesch_reading_ease, "The service is ready to measure drafts.")


service = dataclasses.replace(stage_service(spec), on_start=[warm_up])
