"""The finalizer service: joins the module lanes and assembles each course exactly once."""

from __future__ import annotations

from coursegen.finalizer.agent import CourseFrame, finalizer_agent
from coursegen.finalizer.assemble import gather, to_json, to_markdown, word_count
from coursegen.finalizer.policy import frame_policy
from coursegen.shared.errors import InvalidData
from coursegen.shared.events import CourseReady, Event, Handoff, derived_id
from coursegen.shared.stage import Claim, RunInfo, StageContext, StageSpec, stage_service
from coursegen.shared.store import Executor
from coursegen.shared.subjects import COURSE_READY


async def claim(db: Executor, h: Handoff) -> Claim:
    """Mark this module arrived; under the run's row lock, the arrival that completes the set assembles.

    Each arrival commits its own row before taking the lock, and counts after
    taking it, so of two last arrivals exactly one sees the full set.
    """
    await db.execute(
        "INSERT INTO finalizer_arrivals (session_id, module_index) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        h.session_id,
        h.module_index,
    )
    async with db.acquire() as conn, conn.transaction():  # type: ignore[union-attr]
        total = await conn.fetchval(
            "SELECT modules_total FROM course_runs WHERE session_id = $1 FOR UPDATE", h.session_id
        )
        arrived = await conn.fetchval("SELECT count(*) FROM finalizer_arrivals WHERE session_id = $1", h.session_id)
        await conn.execute("UPDATE course_runs SET modules_done = $2 WHERE session_id = $1", h.session_id, arrived)
        if await conn.fetchval("SELECT 1 FROM assembled_courses WHERE session_id = $1", h.session_id):
            return Claim.DONE
    if total is None:
        raise InvalidData(f"course run {h.session_id} has no plan")
    return Claim.RUN if arrived >= total else Claim.WAIT


async def store(db: Executor, ctx: StageContext, frame: CourseFrame, info: RunInfo) -> None:
    h = ctx.handoff
    parts = await gather(db, h.session_id)
    total = parts["plan"]["total_modules"]
    if len(parts["modules"]) != total:
        raise InvalidData(f"{len(parts['modules'])} of {total} modules are complete; cannot assemble")
    markdown = to_markdown(parts, frame)
    await db.execute(
        """
        INSERT INTO assembled_courses (session_id, job_id, company_id, employee_id, title, total_modules,
                                       word_count, course, markdown)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        """,
        h.session_id,
        h.job_id,
        h.company_id,
        h.employee_id,
        parts["plan"]["course_title"],
        total,
        word_count(markdown),
        to_json(parts, frame),
        markdown,
    )
    await db.execute(
        "UPDATE course_runs SET status = 'completed', completed_at = now(), current_stage = 'finalizer', "
        "modules_done = $2 WHERE session_id = $1",
        h.session_id,
        total,
    )


async def route(db: Executor, h: Handoff) -> list[tuple[str, Event]]:
    course = await db.fetchrow(
        "SELECT course_id, title, total_modules FROM assembled_courses WHERE session_id = $1", h.session_id
    )
    if course is None:
        return []
    return [
        (
            COURSE_READY,
            CourseReady(
                event_id=derived_id("ready", h.session_id, h.epoch),
                course_id=course["course_id"],
                title=course["title"],
                total_modules=course["total_modules"],
                **h.run_ids(),  # type: ignore[arg-type]
            ),
        )
    ]


spec = StageSpec[CourseFrame](
    name="finalizer",
    agent=finalizer_agent,
    policy=frame_policy,
    claim=claim,
    store=store,
    route=route,
    per_course=True,
)
service = stage_service(spec)
