"""Fixtures of the export tests: a course assembled by the real pipeline, and a stored course from a file."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from coursegen.shared.courseview import CourseView
from coursegen.shared.settings import Settings
from coursegen.shared.store import connect
from tests.helpers import make_company, pipeline, request_job, wait_for_job

DATA = Path(__file__).parent / "data"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "export"


@dataclass(frozen=True)
class AssembledCourse:
    course_id: uuid.UUID
    company_id: uuid.UUID
    other_company_id: uuid.UUID


def stored_course_json() -> dict[str, Any]:
    """A course as the finalizer stored it (taken from a pipeline run), with its modules' diagram SVGs."""
    data: dict[str, Any] = json.loads((DATA / "course.json").read_text(encoding="utf-8"))
    return data


def course_view(course: dict[str, Any] | None = None, **kwargs: Any) -> CourseView:
    data = stored_course_json()
    gaps = [g["skill"] for g in data["course"]["prioritized_gaps"]]
    # The skills a module closes are in its stored plan; here, the gaps its title names.
    media: dict[int, dict[str, Any]] = {
        m["index"]: {"diagram_svg": data["svgs"][str(m["index"])], "skills": [g for g in gaps if g in m["title"]]}
        for m in data["course"]["modules"]
    }
    return CourseView.from_json(course or data["course"], media=media, **kwargs)


@pytest.fixture
def view() -> CourseView:
    return course_view()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def assembled_course(settings: Settings) -> AsyncIterator[AssembledCourse]:
    """One course through the whole pipeline (offline model), and a second company that must never see it."""
    assert settings.database_url
    pool = await connect(settings.database_url)
    try:
        company_id, employees = await make_company(pool)
        other_company_id, _ = await make_company(pool)
        async with pipeline(settings):
            job_id = await request_job(settings, company_id, [next(iter(employees.values()))])
            job = await wait_for_job(pool, job_id)
        assert job["status"] == "completed", job
        course_id = await pool.fetchval("SELECT course_id FROM assembled_courses WHERE job_id = $1", job_id)
        yield AssembledCourse(course_id=course_id, company_id=company_id, other_company_id=other_company_id)
    finally:
        await pool.close()
