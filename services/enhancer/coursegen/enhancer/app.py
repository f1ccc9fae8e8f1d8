"""The enhancer service: examples, exercises and a quiz per approved module."""

from __future__ import annotations

from coursegen.enhancer.agent import Enhancements, enhancer_agent
from coursegen.enhancer.policy import enhance_policy
from coursegen.shared.artifacts import claim_unless_stored
from coursegen.shared.stage import RunInfo, StageContext, StageSpec, hand_on, stage_service
from coursegen.shared.store import Executor


async def store(db: Executor, ctx: StageContext, out: Enhancements, info: RunInfo) -> None:
    h = ctx.handoff
    await db.execute(
        "INSERT INTO module_enhancements (session_id, module_index, job_id, examples, exercises, quiz) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        h.session_id,
        h.module_index,
        h.job_id,
        [e.model_dump() for e in out.examples],
        [e.model_dump() for e in out.exercises],
        [q.model_dump() for q in out.quiz],
    )


spec = StageSpec[Enhancements](
    name="enhancer",
    agent=enhancer_agent,
    policy=enhance_policy,
    claim=claim_unless_stored("module_enhancements"),
    store=store,
    route=hand_on("multimedia"),
)
service = stage_service(spec)
