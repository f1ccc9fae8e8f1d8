"""The planner service: one course plan per course run, one handoff per module."""

from __future__ import annotations

from coursegen.planner.agent import CoursePlan, planner_agent
from coursegen.planner.policy import plan_policy
from coursegen.planner.tools import load_profile, public_profile
from coursegen.shared.events import CourseHandoff, CourseSkipped, Event, derived_id
from coursegen.shared.stage import RunInfo, StageContext, StageSpec, claim_unless, stage_service
from coursegen.shared.store import Connection, plans, runs
from coursegen.shared.subjects import COURSE_SKIPPED, handoff_subject


async def stored(conn: Connection, h: CourseHandoff) -> bool:
    return await plans.plan_exists(conn, h.session_id)


async def store(conn: Connection, ctx: StageContext[CourseHandoff], plan: CoursePlan, info: RunInfo) -> None:
    run = ctx.run
    profile = await load_profile(ctx.db, run)
    await plans.insert_plan(
        conn,
        plans.NewPlan(
            session_id=run.session_id,
            job_id=run.job_id,
            company_id=run.company_id,
            employee_id=run.employee_id,
            employee_name=profile.name,
            employee_profile=public_profile(profile),
            course_title=plan.course_title,
            summary=plan.summary,
            modules=[{"module_index": i, **m.model_dump()} for i, m in enumerate(plan.modules)],
            prioritized_gaps=[g.model_dump() for g in plan.prioritized_gaps],
            course_duration_weeks=plan.course_duration_weeks,
            tool_calls=info.tool_calls,
            execution_time_seconds=info.duration_seconds,
            agent_turns=info.turns,
        ),
    )
    # In the same transaction: a run with no gaps ends exactly when its (empty) plan is stored.
    await runs.plan_modules(conn, run.session_id, len(plan.modules))


async def route(conn: Connection, h: CourseHandoff) -> list[tuple[str, Event]]:
    """The fan-out: one researcher handoff per planned module; none means the course is skipped."""
    total = await plans.total_modules(conn, h.session_id)
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


spec = StageSpec[CourseHandoff, CoursePlan](
    name="planner",
    handoff=CourseHandoff,
    agent=planner_agent,
    policy=plan_policy,
    claim=claim_unless(stored),
    store=store,
    route=route,
    unit="course",
)
service = stage_service(spec)
