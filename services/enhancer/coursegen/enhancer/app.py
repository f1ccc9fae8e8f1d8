"""The enhancer service: examples, exercises and a quiz per approved module."""

from __future__ import annotations

from coursegen.enhancer.agent import Enhancements, enhancer_agent
from coursegen.enhancer.policy import enhance_policy
from coursegen.shared.events import ModuleHandoff
from coursegen.shared.stage import RunInfo, StageContext, StageSpec, claim_unless, hand_on, stage_service
from coursegen.shared.store import Connection, enrichment


async def stored(conn: Connection, h: ModuleHandoff) -> bool:
    return await enrichment.enhancements_exist(conn, h.session_id, h.module_index, h.revision)


async def store(conn: Connection, ctx: StageContext[ModuleHandoff], out: Enhancements, info: RunInfo) -> None:
    await enrichment.insert_enhancements(
        conn,
        session_id=ctx.run.session_id,
        module_index=ctx.module_index,
        revision=ctx.handoff.revision,
        job_id=ctx.run.job_id,
        out=enrichment.Enhancements(
            examples=[e.model_dump() for e in out.examples],
            exercises=[e.model_dump() for e in out.exercises],
            quiz=[q.model_dump() for q in out.quiz],
        ),
    )


spec = StageSpec[ModuleHandoff, Enhancements](
    name="enhancer",
    handoff=ModuleHandoff,
    agent=enhancer_agent,
    policy=enhance_policy,
    claim=claim_unless(stored),
    store=store,
    route=hand_on("multimedia"),
)
service = stage_service(spec)
