"""What the enrichment stages work from, composed from the store: the module as quality let it through.

Each function reads one slice by reference, so an agent receives what it
needs and nothing of the conversations before it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from coursegen.shared.store import Connection, content, plans, quality


class ApprovedModule(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    revision: int
    skills: list[str]
    objectives: list[str]
    target_role: str | None
    duration_weeks: int
    key_takeaways: list[str]
    introduction: str
    core_content: str


async def approved_module(conn: Connection, session_id: str, module_index: int) -> ApprovedModule:
    """The module as quality let it through, with its brief."""
    revision = await quality.passed_revision(conn, session_id, module_index)
    draft = await content.get_draft(conn, session_id, module_index, revision)
    brief = await plans.module_brief(conn, session_id, module_index)
    return ApprovedModule(
        title=draft.module_name,
        revision=revision,
        skills=brief.skills,
        objectives=brief.objectives,
        target_role=brief.target_role,
        duration_weeks=brief.duration_weeks,
        key_takeaways=draft.module_spec.get("key_takeaways", []),
        introduction=draft.sections["introduction"],
        core_content=draft.sections["core_content"],
    )
