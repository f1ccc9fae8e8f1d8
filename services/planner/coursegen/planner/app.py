"""The planner service: one course plan per course run, one handoff per module."""

from __future__ import annotations

from coursegen.planner.agent import CoursePlan, planner_agent
from coursegen.planner.policy import plan_policy
from coursegen.planner.tools import load_profile, public_profile
from coursegen.shared.events import CourseHandoff, CourseSkipped, Event, derived_id
from coursegen.shared.stage import RunInfo, StageContext, StageSpec, claim_unless, stage_service
from coursegen.shared.store import Connection, plans, reviews, runs
from coursegen.shared.subjects import COURSE_SKIPPED, handoff_subject


async def stored(conn: Connection, h: CourseHandoff) -> bool:
    return await plans.plan_exists(conn, h.session_id, h.round)


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
            revision=ctx.handoff.round,
        ),
    )
    # In the same transaction: a run with no gaps ends exactly when its (empty) plan is stored,
    # and a run whose outline needs a person's approval starts waiting for it.
    await runs.plan_modules(conn, run.session_id, len(plan.modules))
    if plan.modules and await reviews.outline_review_required(conn, run.job_id):
        await runs.await_outline_review(conn, run.session_id)


async def route(conn: Connection, h: CourseHandoff) -> list[tuple[str, Event]]:
    """The fan-out: one researcher handoff per planned module; none means the course is skipped.

    An outline that waits for a person's approval hands nothing on: the approval does.
    """
    state = await plans.plan_state(conn, h.session_id)
    if state is not None and not state[1] and await reviews.outline_review_required(conn, h.job_id):
        return []
    total = await plans.total_modules(conn, h.session_id)
    if not total:
        return [
            (
                COURSE_SKIPPED,
                CourseSkipped(
                    event_id=derived_id("skipped", h.session_id, h.epoch),
                    reason="no skill gaps for the target role",
                    **h.run_ids(),
                ),
            )
        ]
    revision = state[0] if state is not None else h.round
    return [(handoff_subject("researcher"), h.next("researcher", module_index=i, round=revision)) for i in range(total)]


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
