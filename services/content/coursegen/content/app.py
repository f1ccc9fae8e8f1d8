"""The content service: one draft per module revision."""

from __future__ import annotations

import re

from coursegen.content.agent import ModuleDraft, content_agent
from coursegen.content.policy import content_policy
from coursegen.shared import artifacts
from coursegen.shared.artifacts import claim_unless_stored
from coursegen.shared.stage import RunInfo, StageContext, StageSpec, hand_on, stage_service
from coursegen.shared.store import Executor


def word_count(text: str) -> int:
    return len(re.findall(r"\b\w+\b", text))


async def store(db: Executor, ctx: StageContext, draft: ModuleDraft, info: RunInfo) -> None:
    h = ctx.handoff
    assert h.module_index is not None
    brief = ctx.scratch.get("brief") or await artifacts.module_brief(db, h.session_id, h.module_index)
    research = ctx.scratch.get("research") or await artifacts.research(db, h.session_id, h.module_index)
    sections = {name: getattr(draft, name) for name in artifacts.SECTIONS}
    counts = {name: word_count(text) for name, text in sections.items()}
    employee_name = await db.fetchval("SELECT employee_name FROM cm_course_plans WHERE session_id = $1", h.session_id)
    await db.execute(
        """
        INSERT INTO cm_module_content (company_id, job_id, module_name, employee_name, session_id, module_index,
                                       revision, introduction, core_content, practical_applications, case_studies,
                                       assessments, module_spec, research_context, total_word_count,
                                       section_word_counts, status, priority_level, revision_count)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'quality_check', $17, $7)
        """,
        h.company_id,
        h.job_id,
        draft.title,
        employee_name or "",
        h.session_id,
        h.module_index,
        h.revision,
        *sections.values(),
        {**brief, "key_takeaways": draft.key_takeaways},
        {"summary": research["summary"], "sources": research["sources"]},
        sum(counts.values()),
        counts,
        brief.get("priority", "medium"),
    )


spec = StageSpec[ModuleDraft](
    name="content",
    agent=content_agent,
    policy=content_policy,
    claim=claim_unless_stored("cm_module_content"),
    store=store,
    route=hand_on("quality"),
)
service = stage_service(spec)
