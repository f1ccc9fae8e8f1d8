"""The planner service: one course plan per course run, one handoff per module."""

from __future__ import annotations

from coursegen.planner.agent import CoursePlan, planner_agent
from coursegen.planner.policy import plan_policy
from coursegen.shared.artifacts import claim_unless_stored
from coursegen.shared.events import CourseSkipped, Event, Handoff, derived_id
from coursegen.shared.stage import RunInfo, StageContext, StageSpec, stage_service
from coursegen.shared.store import Executor
from coursegen.shared.subjects import COURSE_SKIPPED, handoff_subject


async def store(db: Executor, ctx: StageContext, plan: CoursePlan, info: RunInfo) -> None:
    h = ctx.handoff
    profile = ctx.scratch.get("profile", {})
    modules = [{"module_index": i, **m.model_dump()} for i, m in enumerate(plan.modules)]
    await db.execute(
        """
        INSERT INTO cm_course_plans (employee_id, employee_name, session_id, job_id, company_id, course_structure,
                                     prioritized_gaps, research_strategy, learning_path, employee_profile,
                                     total_modules, course_duration_weeks, course_title, tool_calls,
                                     execution_time_seconds, agent_turns)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb[], $15, $16)
        """,
        h.employee_id,
        profile.get("name") or "",
        h.session_id,
        h.job_id,
        h.company_id,
        {"summary": plan.summary, "modules": modules},
        [g.model_dump() for g in plan.prioritized_gaps],
        {"modules": [{"module_index": i, "queries": m.research_queries} for i, m in enumerate(plan.modules)]},
        [
            {
                "step": i + 1,
                "module_index": i,
                "title": m.title,
                "weeks": m.duration_weeks,
                "prerequisites": m.prerequisites,
            }
            for i, m in enumerate(plan.modules)
        ],
        {k: v for k, v in profile.items() if k != "plan_role_id"},
        len(plan.modules),
        plan.course_duration_weeks,
        plan.course_title,
        [{"tool": name} for name in info.tool_calls],
        round(info.duration_seconds, 3),
        info.turns,
    )
    await db.execute(
        """
        UPDATE course_runs
           SET modules_total = $2,
               status = CASE WHEN $2 = 0 THEN 'no_gaps' ELSE status END,
               completed_at = CASE WHEN $2 = 0 THEN now() ELSE completed_at END
         WHERE session_id = $1
        """,
        h.session_id,
        len(plan.modules),
    )


async def route(db: Executor, h: Handoff) -> list[tuple[str, Event]]:
    total = await db.fetchval("SELECT total_modules FROM cm_course_plans WHERE session_id = $1", h.session_id)
    if not total:
        return [
            (
                COURSE_SKIPPED,
                CourseSkipped(
                    event_id=derived_id("skipped", h.session_id, h.epoch),
                    reason="no skill gaps for the target role",
                    **h.run_ids(),  # type: ignore[arg-type]
                ),
            )
        ]
    return [(handoff_subject("researcher"), h.next("researcher", module_index=i)) for i in range(total)]


spec = StageSpec[CoursePlan](
    name="planner",
    agent=planner_agent,
    policy=plan_policy,
    claim=claim_unless_stored("cm_course_plans"),
    store=store,
    route=route,
)
service = stage_service(spec)
