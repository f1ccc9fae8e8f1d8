"""The content service: one draft per module revision."""

from __future__ import annotations

import re

from coursegen.content.agent import ModuleDraft, content_agent
from coursegen.content.policy import content_policy
from coursegen.shared.events import ModuleHandoff
from coursegen.shared.stage import RunInfo, StageContext, StageSpec, claim_unless, hand_on, stage_service
from coursegen.shared.store import Connection, content, plans, research


def word_count(text: str) -> int:
    return len(re.findall(r"\b\w+\b", text))


async def stored(conn: Connection, h: ModuleHandoff) -> bool:
    return await content.draft_exists(conn, h.session_id, h.module_index, h.revision)


async def store(conn: Connection, ctx: StageContext[ModuleHandoff], draft: ModuleDraft, info: RunInfo) -> None:
    h, run = ctx.handoff, ctx.run
    brief = await plans.module_brief(conn, run.session_id, h.module_index)
    found = await research.get_research(conn, run.session_id, h.module_index)
    plan = await plans.get_plan(conn, run.session_id)
    sections = {name: getattr(draft, name) for name in content.SECTIONS}
    await content.insert_draft(
        conn,
        content.NewDraft(
            session_id=run.session_id,
            module_index=h.module_index,
            revision=h.revision,
            job_id=run.job_id,
            company_id=run.company_id,
            employee_name=plan.employee_name,
            module_name=draft.title,
            sections=sections,
            module_spec={**brief.model_dump(mode="json"), "key_takeaways": draft.key_takeaways},
            research_context={"summary": found.summary, "sources": found.sources},
            section_word_counts={name: word_count(text) for name, text in sections.items()},
            priority_level=brief.priority,
        ),
    )


spec = StageSpec[ModuleHandoff, ModuleDraft](
    name="content",
    handoff=ModuleHandoff,
    agent=content_agent,
    policy=content_policy,
    claim=claim_unless(stored),
    store=store,
    route=hand_on("quality"),
)
service = stage_service(spec)
