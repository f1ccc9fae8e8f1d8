"""The multimedia service: a diagram that parses, alt text and narration per module."""

from __future__ import annotations

import mermaid_render

from coursegen.multimedia.agent import Media, multimedia_agent
from coursegen.multimedia.policy import media_policy
from coursegen.shared.events import ModuleHandoff
from coursegen.shared.narration import narrate
from coursegen.shared.stage import RunInfo, StageContext, StageSpec, claim_unless, hand_on, stage_service
from coursegen.shared.store import Connection, enrichment


async def stored(conn: Connection, h: ModuleHandoff) -> bool:
    return await enrichment.multimedia_exists(conn, h.session_id, h.module_index, h.revision)


async def store(conn: Connection, ctx: StageContext[ModuleHandoff], out: Media, info: RunInfo) -> None:
    await enrichment.insert_multimedia(
        conn,
        session_id=ctx.run.session_id,
        module_index=ctx.module_index,
        revision=ctx.handoff.revision,
        job_id=ctx.run.job_id,
        out=enrichment.Multimedia(
            diagram_mermaid=out.diagram_mermaid,
            diagram_svg=mermaid_render.mermaid_to_svg(out.diagram_mermaid).decode(),
            alt_text=out.alt_text,
            narration_script=out.narration_script,
        ),
    )
    await narrate(conn, ctx.handoff, out.narration_script)


spec = StageSpec[ModuleHandoff, Media](
    name="multimedia",
    handoff=ModuleHandoff,
    agent=multimedia_agent,
    policy=media_policy,
    claim=claim_unless(stored),
    store=store,
    route=hand_on("finalizer"),
)
service = stage_service(spec)
