"""The finalizer service: joins the module lanes and assembles each course exactly once."""

from __future__ import annotations

from coursegen.finalizer.agent import CourseFrame, finalizer_agent
from coursegen.finalizer.assemble import gather, to_json, to_markdown, word_count
from coursegen.finalizer.policy import frame_policy
from coursegen.shared.errors import InvalidData
from coursegen.shared.events import CourseReady, Event, ModuleHandoff, derived_id
from coursegen.shared.stage import Claim, RunInfo, StageContext, StageSpec, stage_service
from coursegen.shared.store import Connection, courses, runs
from coursegen.shared.subjects import COURSE_READY


async def join(conn: Connection, h: ModuleHandoff) -> Claim:
    """Mark this module arrived; under the run's row lock, the arrival that completes the set assembles.

    Each arrival commits its own row before taking the lock, and counts after
    taking it, so of two last arrivals exactly one sees the full set.
    """
    await courses.mark_arrived(conn, h.session_id, h.module_index)
    async with conn.transaction():
        run = await runs.get_run(conn, h.session_id, for_update=True)
        arrived = await courses.arrived(conn, h.session_id)
        await runs.set_modules_done(conn, h.session_id, arrived)
        if await courses.course_of_run(conn, h.session_id) is not None:
            return Claim.DONE
    if run is None or run.modules_total is None:
        raise InvalidData(f"course run {h.session_id} has no plan")
    return Claim.RUN if arrived >= run.modules_total else Claim.WAIT


async def store(conn: Connection, ctx: StageContext[ModuleHandoff], frame: CourseFrame, info: RunInfo) -> None:
    run = ctx.run
    parts = await gather(conn, run.session_id)
    total = parts["plan"]["total_modules"]
    if len(parts["modules"]) != total:
        raise InvalidData(f"{len(parts['modules'])} of {total} modules are complete; cannot assemble")
    markdown = to_markdown(parts, frame)
    await courses.insert_course(
        conn,
        courses.NewCourse(
            session_id=run.session_id,
            job_id=run.job_id,
            company_id=run.company_id,
            employee_id=run.employee_id,
            title=parts["plan"]["course_title"],
            total_modules=total,
            word_count=word_count(markdown),
            course=to_json(parts, frame),
            markdown=markdown,
        ),
    )
    await runs.complete_run(conn, run.session_id, total)


async def route(conn: Connection, h: ModuleHandoff) -> list[tuple[str, Event]]:
    course = await courses.course_of_run(conn, h.session_id)
    if course is None:
        return []
    return [
        (
            COURSE_READY,
            CourseReady(
                event_id=derived_id("ready", h.session_id, h.epoch),
                course_id=course.course_id,
                title=course.title,
                total_modules=course.total_modules,
                **h.run_ids(),  # type: ignore[arg-type]
            ),
        )
    ]


spec = StageSpec[ModuleHandoff, CourseFrame](
    name="finalizer",
    handoff=ModuleHandoff,
    agent=finalizer_agent,
    policy=frame_policy,
    claim=join,
    store=store,
    route=route,
    unit="course",
)
service = stage_service(spec)
