"""Each status has one owner: allowed transitions happen, the others are refused, in the store and the database."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from coursegen.shared.errors import TransitionRefused
from coursegen.shared.store import Database, jobs, runs
from coursegen.shared.store.jobs import JOB_TRANSITIONS, JobStatus
from coursegen.shared.store.runs import RUN_TRANSITIONS, RunStatus
from coursegen.stack.seed import EMPLOYEES
from tests.helpers import make_company


async def new_run(db: asyncpg.Pool[Any]) -> tuple[uuid.UUID, str]:
    company_id, employees = await make_company(db, employees=EMPLOYEES[:1])
    job_id = uuid.uuid4()
    session_id = f"s-{uuid.uuid4().hex}"
    async with Database(db).transaction() as conn:
        await jobs.create_job(
            conn,
            job_id=job_id,
            company_id=company_id,
            requested_by=None,
            employees=1,
            token_budget=None,
            request_event_id=uuid.uuid4(),
        )
        await runs.create_runs(conn, job_id, company_id, [(session_id, next(iter(employees.values())))])
    return job_id, session_id


async def status_of(db: asyncpg.Pool[Any], session_id: str) -> str:
    status: str = await db.fetchval("SELECT status FROM course_runs WHERE session_id = $1", session_id)
    return status


def test_finished_runs_have_nowhere_to_go() -> None:
    for status in (RunStatus.COMPLETED, RunStatus.NO_GAPS, RunStatus.CANCELLED):
        assert RUN_TRANSITIONS[status] == frozenset(), status
    assert RUN_TRANSITIONS[RunStatus.FAILED] == {RunStatus.RUNNING}, "only a resume leaves failed"


async def test_a_completed_run_is_never_reopened(db: asyncpg.Pool[Any]) -> None:
    _, session_id = await new_run(db)
    async with Database(db).transaction() as conn:
        assert await runs.start_stage(conn, session_id, "planner")
        await runs.complete_run(conn, session_id, 2)
        # A resume that read the run as unfinished a moment ago must not reopen it now.
        assert await runs.reopen_runs(conn, [session_id], include_failed=True) == []
        assert not await runs.start_stage(conn, session_id, "researcher")
        assert not await runs.fail_run(conn, session_id, epoch=0, stage="x", kind="internal", message="m", attempts=1)
        with pytest.raises(TransitionRefused, match="is completed; it cannot become no_gaps"):
            await runs.plan_modules(conn, session_id, 0)
    assert await status_of(db, session_id) == "completed"


async def test_the_database_refuses_what_the_store_refuses(db: asyncpg.Pool[Any]) -> None:
    """A writer that goes around the store meets the same rules in a trigger."""
    job_id, session_id = await new_run(db)
    await db.execute("UPDATE course_runs SET status = 'cancelled' WHERE session_id = $1", session_id)
    with pytest.raises(asyncpg.CheckViolationError, match="cannot go from cancelled to running"):
        await db.execute("UPDATE course_runs SET status = 'running' WHERE session_id = $1", session_id)
    await db.execute("UPDATE course_generation_jobs SET status = 'cancelled' WHERE job_id = $1", job_id)
    with pytest.raises(asyncpg.CheckViolationError, match="cannot go from cancelled to running"):
        await db.execute("UPDATE course_generation_jobs SET status = 'running' WHERE job_id = $1", job_id)
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute("UPDATE course_runs SET status = 'nonsense' WHERE session_id = $1", session_id)


async def test_a_failure_of_an_older_epoch_never_fails_the_resumed_run(db: asyncpg.Pool[Any]) -> None:
    _, session_id = await new_run(db)
    async with Database(db).transaction() as conn:
        assert await runs.fail_run(conn, session_id, epoch=0, stage="content", kind="agent_error", message="first",
                                   attempts=1)  # fmt: skip
        [reopened] = await runs.reopen_runs(conn, [session_id], include_failed=True)
        assert reopened.epoch == 1 and reopened.status is RunStatus.RUNNING
        # The old epoch's last delivery fails late: the resumed run is not its to fail.
        assert not await runs.fail_run(conn, session_id, epoch=0, stage="content", kind="max_deliveries",
                                       message="late", attempts=5)  # fmt: skip
        assert await runs.fail_run(conn, session_id, epoch=1, stage="quality", kind="agent_error", message="new",
                                   attempts=1)  # fmt: skip
    row = await db.fetchrow("SELECT status, error_stage FROM course_runs WHERE session_id = $1", session_id)
    assert (row["status"], row["error_stage"]) == ("failed", "quality")


async def test_a_stall_redrive_leaves_failed_runs_to_a_resume(db: asyncpg.Pool[Any]) -> None:
    _, session_id = await new_run(db)
    async with Database(db).transaction() as conn:
        await runs.fail_run(conn, session_id, epoch=0, stage="content", kind="agent_error", message="x", attempts=1)
        assert await runs.reopen_runs(conn, [session_id], include_failed=False) == []
    assert await status_of(db, session_id) == "failed"


async def test_job_transitions(db: asyncpg.Pool[Any]) -> None:
    job_id, _ = await new_run(db)
    async with Database(db).transaction() as conn:
        assert await jobs.cancel_job(conn, job_id, reason="stop")
        assert not await jobs.cancel_job(conn, job_id), "cancelling twice is a no-op"
        with pytest.raises(TransitionRefused):
            await jobs.reopen_job(conn, job_id)
        job = await jobs.get_job(conn, job_id)
    assert job is not None and job.status is JobStatus.CANCELLED


async def test_a_completed_job_is_never_reopened(db: asyncpg.Pool[Any]) -> None:
    """A job whose runs all completed has nothing to resume: neither the store nor the database reopens it."""
    job_id, _ = await new_run(db)
    await db.execute("UPDATE course_generation_jobs SET status = 'completed' WHERE job_id = $1", job_id)
    assert JOB_TRANSITIONS[JobStatus.COMPLETED] == frozenset()
    async with Database(db).transaction() as conn:
        with pytest.raises(TransitionRefused, match="cannot be reopened"):
            await jobs.reopen_job(conn, job_id)
    with pytest.raises(asyncpg.CheckViolationError, match="cannot go from completed to running"):
        await db.execute("UPDATE course_generation_jobs SET status = 'running' WHERE job_id = $1", job_id)
    # One that ended with failed runs may still be resumed.
    other_id, _ = await new_run(db)
    await db.execute("UPDATE course_generation_jobs SET status = 'completed_with_errors' WHERE job_id = $1", other_id)
    async with Database(db).transaction() as conn:
        await jobs.reopen_job(conn, other_id)
        job = await jobs.get_job(conn, other_id)
    assert job is not None and job.status is JobStatus.RUNNING
