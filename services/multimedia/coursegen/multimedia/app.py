"""The multimedia service: a diagram that parses, alt text and narration per module."""

from __future__ import annotations

import mermaid_render

from coursegen.multimedia.agent import Media, multimedia_agent
from coursegen.multimedia.policy import media_policy
from coursegen.shared.artifacts import claim_unless_stored
from coursegen.shared.narration import narrate
from coursegen.shared.stage import RunInfo, StageContext, StageSpec, hand_on, stage_service
from coursegen.shared.store import Executor


async def store(db: Executor, ctx: StageContext, out: Media, info: RunInfo) -> None:
    h = ctx.handoff
    await db.execute(
        "INSERT INTO module_multimedia (session_id, module_index, job_id, diagram_mermaid, diagram_svg, alt_text, "
        "narration_script) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        h.session_id,
        h.module_index,
        h.job_id,
        out.diagram_mermaid,
        mermaid_render.mermaid_to_svg(out.diagram_mermaid).decode(),
        out.alt_text,
        out.narration_script,
    )
    await narrate(db, h, out.narration_script)


spec = StageSpec[Media](
    name="multimedia",
    agent=multimedia_agent,
    policy=media_policy,
    claim=claim_unless_stored("module_multimedia"),
    store=store,
    route=hand_on("finalizer"),
)
service = stage_service(spec)
