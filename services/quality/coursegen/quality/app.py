"""The quality service: score each draft; below the pass mark it goes back to content, a bounded number of times."""

from __future__ import annotations

import asyncio
import dataclasses

import textstat

from coursegen.quality.agent import Review, quality_agent
from coursegen.quality.policy import review_policy
from coursegen.quality.rubric import Rubric
from coursegen.quality.tools import measure_draft
from coursegen.shared.artifacts import claim_unless_stored
from coursegen.shared.events import Event, Handoff
from coursegen.shared.service import Runtime
from coursegen.shared.stage import RunInfo, StageContext, StageSpec, stage_service
from coursegen.shared.store import Executor
from coursegen.shared.subjects import handoff_subject

PASS_MARK = 80.0
MAX_REVISIONS = 2


def decide(rubric: Rubric, revision: int, *, pass_mark: float = PASS_MARK, max_revisions: int = MAX_REVISIONS) -> str:
    """pass, revise, or pass_with_warning once the revisions are spent."""
    if rubric.score >= pass_mark and rubric.hard_checks_pass:
        return "pass"
    return "revise" if revision < max_revisions else "pass_with_warning"


async def store(db: Executor, ctx: StageContext, review: Review, info: RunInfo) -> None:
    h = ctx.handoff
    if "rubric" not in ctx.scratch:
        await measure_draft(ctx)  # the model skipped the tool: measure anyway, the verdict needs it
    rubric: Rubric = ctx.scratch["rubric"]
    decision = decide(rubric, h.revision)
    # Whatever the model wrote, every measured problem reaches the writer.
    feedback = list(dict.fromkeys([*rubric.feedback(), *review.feedback]))
    if decision == "pass_with_warning":
        feedback.insert(0, f"warning: passed after {h.revision} revision(s) below the pass mark ({rubric.score:.0f})")
    await db.execute(
        """
        INSERT INTO quality_reports (session_id, module_index, revision, job_id, score, passed, decision, rubric,
                                     feedback)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        """,
        h.session_id,
        h.module_index,
        h.revision,
        h.job_id,
        rubric.score,
        decision != "revise",
        decision,
        {**rubric.as_dict(), "summary": review.summary, "strengths": review.strengths},
        feedback,
    )
    await db.execute(
        "UPDATE cm_module_content SET status = $4 WHERE session_id = $1 AND module_index = $2 AND revision = $3",
        h.session_id,
        h.module_index,
        h.revision,
        "revision" if decision == "revise" else "approved",
    )


async def route(db: Executor, h: Handoff) -> list[tuple[str, Event]]:
    decision = await db.fetchval(
        "SELECT decision FROM quality_reports WHERE session_id = $1 AND module_index = $2 AND revision = $3",
        h.session_id,
        h.module_index,
        h.revision,
    )
    if decision == "revise":
        return [(handoff_subject("content"), h.next("content", revision=h.revision + 1))]
    return [(handoff_subject("enhancer"), h.next("enhancer"))]


spec = StageSpec[Review](
    name="quality",
    agent=quality_agent,
    policy=review_policy,
    claim=claim_unless_stored("quality_reports"),
    store=store,
    route=route,
)


async def warm_up(runtime: Runtime) -> None:
    """Load textstat's pronunciation dictionary at start (seconds), not while the first draft waits."""
    await asyncio.to_thread(textstat.flesch_reading_ease, "The service is ready to measure drafts.")


service = dataclasses.replace(stage_service(spec), on_start=[warm_up])
