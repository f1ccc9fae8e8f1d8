"""The finalizer service: joins the module lanes and assembles each course exactly once, as its first
draft version; in a review round (a module reworked after a change request) it assembles a new version."""

from __future__ import annotations

from coursegen.finalizer.agent import CourseFrame, finalizer_agent
from coursegen.finalizer.assemble import gather, to_json, to_markdown, word_count
from coursegen.finalizer.policy import frame_policy
from coursegen.shared.errors import InvalidData
from coursegen.shared.events import CourseDrafted, CourseReady, Event, ModuleHandoff, derived_id
from coursegen.shared.review import drafts
from coursegen.shared.stage import Claim, RunInfo, StageContext, StageSpec, stage_service
from coursegen.shared.store import Connection, courses, reviews, runs, versions
from coursegen.shared.store.reviews import RequestKind
from coursegen.shared.subjects import COURSE_DRAFTED, COURSE_READY


async def is_rework(conn: Connection, h: ModuleHandoff) -> bool:
    """This handoff belongs to a change request's round: one module reworked, the others as stored."""
    if h.round == 0:
        return False
    request = await reviews.get_request(conn, h.session_id, h.round)
    return request is not None and request.kind is RequestKind.CHANGE_REQUEST


async def join(conn: Connection, h: ModuleHandoff) -> Claim:
    """Mark this module arrived; under the run's row lock, the arrival that completes the set assembles.

    Each arrival commits its own row before taking the lock, and counts after
    taking it, so of two last arrivals exactly one sees the full set. A change
    request's round has one module to wait for: the one it reworked.
    """
    if await is_rework(conn, h):
        done = await versions.version_of_round(conn, h.session_id, h.round) is not None
        return Claim.DONE if done else Claim.RUN
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
    run, h = ctx.run, ctx.handoff
    parts = await gather(conn, run.session_id)
    total = parts["plan"]["total_modules"]
    if len(parts["modules"]) != total:
        raise InvalidData(f"{len(parts['modules'])} of {total} modules are complete; cannot assemble")
    markdown = to_markdown(parts, frame)
    course = to_json(parts, frame)
    rework = await is_rework(conn, h)
    if rework:
        await courses.replace_latest(conn, run.session_id, course=course, markdown=markdown, words=word_count(markdown))
    else:
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
                course=course,
                markdown=markdown,
            ),
        )
    await drafts.store_draft(
        conn,
        run,
        round=h.round,
        origin=versions.Origin.CHANGE_REQUEST if rework else versions.Origin.GENERATED,
        course=course,
        markdown=markdown,
    )
    if not rework:
        await runs.complete_run(conn, run.session_id, total)


async def route(conn: Connection, h: ModuleHandoff) -> list[tuple[str, Event]]:
    events: list[tuple[str, Event]] = []
    if not await is_rework(conn, h):
        course = await courses.course_of_run(conn, h.session_id)
        if course is None:
            return []
        events.append(
            (
                COURSE_READY,
                CourseReady(
                    event_id=derived_id("ready", h.session_id, h.epoch),
                    course_id=course.course_id,
                    title=course.title,
                    total_modules=course.total_modules,
                    **h.run_ids(),
                ),
            )
        )
    version = await versions.version_of_round(conn, h.session_id, h.round)
    if version is not None:
        events.append(
            (
                COURSE_DRAFTED,
                CourseDrafted(
                    event_id=derived_id("drafted", version.version_id),
                    course_id=version.course_id,
                    version=version.version,
                    origin=version.origin.value,
                    round=h.round,
                    **h.run_ids(),
                ),
            )
        )
    return events


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
