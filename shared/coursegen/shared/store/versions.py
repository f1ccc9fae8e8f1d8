"""Courses and their versions (``courses``, ``course_versions``, ``claim_flags``).

A course is what a learner follows: one per employee of a company. Every
assembly of it (the generated course, a reworked module, a person's text edit,
a regeneration by a later job) is a new draft version; a person publishes one,
and learners see the published version until another is published. This module
is the one owner of ``course_versions.status`` (mirrored by a trigger).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from coursegen.shared.errors import TransitionRefused
from coursegen.shared.store._pool import Connection


class VersionStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"
    """Was published; another version replaced it."""


class Origin(StrEnum):
    GENERATED = "generated"
    CHANGE_REQUEST = "change_request"
    DIRECT_EDIT = "direct_edit"


class Course(BaseModel):
    model_config = ConfigDict(frozen=True)

    course_id: uuid.UUID
    company_id: uuid.UUID
    employee_id: uuid.UUID
    title: str
    created_at: datetime


class VersionSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    version_id: uuid.UUID
    course_id: uuid.UUID
    company_id: uuid.UUID
    version: int
    session_id: str
    round: int | None
    origin: Origin
    status: VersionStatus
    title: str
    based_on: int | None
    created_by: str
    created_at: datetime
    published_by: str | None
    published_at: datetime | None
    override_reason: str | None


class Version(VersionSummary):
    course: dict[str, Any]
    markdown: str
    module_fingerprints: list[str]


class NewVersion(BaseModel):
    model_config = ConfigDict(frozen=True)

    company_id: uuid.UUID
    employee_id: uuid.UUID
    session_id: str
    round: int | None
    origin: Origin
    title: str
    course: dict[str, Any]
    markdown: str
    module_fingerprints: list[str]
    created_by: str
    based_on: int | None = None


class ClaimFlag(BaseModel):
    model_config = ConfigDict(frozen=True)

    module_index: int
    section: str
    sentence: str
    ref: int
    support: float
    verdict: str
    method: str


_SUMMARY = """v.version_id, v.course_id, v.company_id, v.version, v.session_id, v.round, v.origin, v.status, v.title,
    v.based_on, v.created_by, v.created_at, v.published_by, v.published_at, v.override_reason"""
_FULL = f"{_SUMMARY}, v.course, v.markdown, v.module_fingerprints"


async def ensure_course(conn: Connection, company_id: uuid.UUID, employee_id: uuid.UUID, title: str) -> uuid.UUID:
    """The employee's course, created with its first version."""
    course_id: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO courses (company_id, employee_id, title) VALUES ($1, $2, $3)
        ON CONFLICT (company_id, employee_id) DO UPDATE SET title = courses.title
        RETURNING course_id
        """,
        company_id,
        employee_id,
        title,
    )
    return course_id


async def insert_version(conn: Connection, v: NewVersion, flags: list[ClaimFlag]) -> Version:
    """A new draft version, numbered after the course's last one, with its claim flags.

    Takes the course's row lock, so two versions of one course never get the same number.
    """
    course_id = await ensure_course(conn, v.company_id, v.employee_id, v.title)
    await conn.execute("SELECT 1 FROM courses WHERE course_id = $1 FOR UPDATE", course_id)
    row = await conn.fetchrow(
        f"""
        INSERT INTO course_versions AS v (course_id, company_id, version, session_id, round, origin, title, course,
                                          markdown, module_fingerprints, created_by, based_on)
        SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $4, $5, $6, $7, $8, $9, $10, $11
          FROM course_versions WHERE course_id = $1
        RETURNING {_FULL}
        """,
        course_id,
        v.company_id,
        v.session_id,
        v.round,
        str(v.origin),
        v.title,
        v.course,
        v.markdown,
        v.module_fingerprints,
        v.created_by,
        v.based_on,
    )
    assert row is not None
    version = Version.model_validate(dict(row))
    await conn.executemany(
        """
        INSERT INTO claim_flags (version_id, company_id, module_index, section, sentence, ref, support, verdict, method)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        """,
        [
            (version.version_id, v.company_id, f.module_index, f.section, f.sentence, f.ref, f.support, f.verdict,
             f.method)
            for f in flags
        ],
    )  # fmt: skip
    return version


async def employee_of(conn: Connection, version: VersionSummary) -> uuid.UUID:
    """The learner a version's course is for."""
    employee_id: uuid.UUID = await conn.fetchval(
        "SELECT employee_id FROM courses WHERE course_id = $1 AND company_id = $2",
        version.course_id,
        version.company_id,
    )
    return employee_id


async def version_of_round(conn: Connection, session_id: str, round: int) -> VersionSummary | None:
    """The version a run's review round assembled, if it has."""
    row = await conn.fetchrow(
        f"SELECT {_SUMMARY} FROM course_versions v WHERE v.session_id = $1 AND v.round = $2", session_id, round
    )
    return VersionSummary.model_validate(dict(row)) if row else None


async def get_course(conn: Connection, company_id: uuid.UUID, course_id: uuid.UUID) -> Course | None:
    """A course of this company; another company's course does not exist."""
    row = await conn.fetchrow(
        "SELECT course_id, company_id, employee_id, title, created_at FROM courses WHERE course_id = $1 "
        "AND company_id = $2",
        course_id,
        company_id,
    )
    return Course.model_validate(dict(row)) if row else None


async def course_of_employee(conn: Connection, company_id: uuid.UUID, employee_id: uuid.UUID) -> Course | None:
    row = await conn.fetchrow(
        "SELECT course_id, company_id, employee_id, title, created_at FROM courses WHERE company_id = $1 "
        "AND employee_id = $2",
        company_id,
        employee_id,
    )
    return Course.model_validate(dict(row)) if row else None


async def course_of_session(conn: Connection, company_id: uuid.UUID, session_id: str) -> Course | None:
    row = await conn.fetchrow(
        """
        SELECT c.course_id, c.company_id, c.employee_id, c.title, c.created_at
          FROM courses c JOIN course_runs r ON r.employee_id = c.employee_id AND r.company_id = c.company_id
         WHERE r.session_id = $1 AND c.company_id = $2
        """,
        session_id,
        company_id,
    )
    return Course.model_validate(dict(row)) if row else None


async def list_versions(conn: Connection, company_id: uuid.UUID, course_id: uuid.UUID) -> list[VersionSummary]:
    rows = await conn.fetch(
        f"SELECT {_SUMMARY} FROM course_versions v WHERE v.company_id = $1 AND v.course_id = $2 ORDER BY v.version",
        company_id,
        course_id,
    )
    return [VersionSummary.model_validate(dict(r)) for r in rows]


async def get_version(
    conn: Connection, company_id: uuid.UUID, course_id: uuid.UUID, version: int, *, for_update: bool = False
) -> Version | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {_FULL} FROM course_versions v WHERE v.company_id = $1 AND v.course_id = $2 AND v.version = $3{lock}",
        company_id,
        course_id,
        version,
    )
    return Version.model_validate(dict(row)) if row else None


async def latest_version(conn: Connection, company_id: uuid.UUID, course_id: uuid.UUID) -> Version | None:
    row = await conn.fetchrow(
        f"""
        SELECT {_FULL} FROM course_versions v WHERE v.company_id = $1 AND v.course_id = $2
         ORDER BY v.version DESC LIMIT 1
        """,
        company_id,
        course_id,
    )
    return Version.model_validate(dict(row)) if row else None


async def published_version(conn: Connection, company_id: uuid.UUID, course_id: uuid.UUID) -> Version | None:
    row = await conn.fetchrow(
        f"SELECT {_FULL} FROM course_versions v "
        "WHERE v.company_id = $1 AND v.course_id = $2 AND v.status = 'published'",
        company_id,
        course_id,
    )
    return Version.model_validate(dict(row)) if row else None


async def published_courses(conn: Connection, company_id: uuid.UUID, employee_id: uuid.UUID) -> list[Version]:
    """The published version of each of the employee's courses."""
    rows = await conn.fetch(
        f"""
        SELECT {_FULL} FROM course_versions v JOIN courses c USING (course_id)
         WHERE v.company_id = $1 AND c.company_id = $1 AND c.employee_id = $2 AND v.status = 'published'
         ORDER BY c.created_at
        """,
        company_id,
        employee_id,
    )
    return [Version.model_validate(dict(r)) for r in rows]


async def claim_flags(conn: Connection, company_id: uuid.UUID, version_id: uuid.UUID) -> list[ClaimFlag]:
    rows = await conn.fetch(
        """
        SELECT module_index, section, sentence, ref, support, verdict, method FROM claim_flags
         WHERE company_id = $1 AND version_id = $2 ORDER BY module_index, section, flag_id
        """,
        company_id,
        version_id,
    )
    return [ClaimFlag.model_validate(dict(r)) for r in rows]


async def publish(
    conn: Connection, company_id: uuid.UUID, version_id: uuid.UUID, *, by: str, override_reason: str | None
) -> None:
    """draft → published; the course's published version (if any) → archived. One published per course."""
    # In the caller's transaction: a refused publish below rolls the archiving back.
    await conn.execute(
        "UPDATE course_versions SET status = 'archived' WHERE company_id = $1 AND status = 'published' "
        "AND course_id = (SELECT course_id FROM course_versions WHERE version_id = $2)",
        company_id,
        version_id,
    )
    result: str = await conn.execute(
        """
        UPDATE course_versions SET status = 'published', published_by = $3, published_at = now(), override_reason = $4
         WHERE company_id = $1 AND version_id = $2 AND status = 'draft'
        """,
        company_id,
        version_id,
        by,
        override_reason,
    )
    if not result.endswith(" 1"):
        raise TransitionRefused(f"version {version_id} is not a draft: only a draft can be published")


async def company_of_course(conn: Connection, course_id: uuid.UUID) -> uuid.UUID | None:
    """The company a course belongs to: for operators with database access (the command line), who act
    as that company. Pages and the API take the company from the signed-in user instead."""
    company_id: uuid.UUID | None = await conn.fetchval("SELECT company_id FROM courses WHERE course_id = $1", course_id)
    return company_id


class CourseListing(BaseModel):
    """One course on the review list: its newest version, its published one, and the newest's open flags."""

    model_config = ConfigDict(frozen=True)

    course_id: uuid.UUID
    employee_id: uuid.UUID
    employee_name: str
    title: str
    latest_version: int
    latest_status: VersionStatus
    latest_at: datetime
    published_version: int | None
    open_flags: int


async def list_courses(
    conn: Connection, company_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[CourseListing], int]:
    """The company's courses with versions, those whose newest version is a draft first, newest first."""
    rows = await conn.fetch(
        """
        SELECT c.course_id, c.employee_id, coalesce(e.full_name, c.employee_id::text) AS employee_name,
               v.title, v.version AS latest_version, v.status AS latest_status, v.created_at AS latest_at,
               (SELECT p.version FROM course_versions p WHERE p.course_id = c.course_id AND p.company_id = $1
                   AND p.status = 'published') AS published_version,
               (SELECT count(*) FROM claim_flags f WHERE f.version_id = v.version_id AND f.company_id = $1)
                   AS open_flags
          FROM courses c
          JOIN LATERAL (SELECT * FROM course_versions x WHERE x.course_id = c.course_id AND x.company_id = $1
                         ORDER BY x.version DESC LIMIT 1) v ON true
          LEFT JOIN employees e ON e.id = c.employee_id AND e.company_id = c.company_id
         WHERE c.company_id = $1
         ORDER BY (v.status = 'draft') DESC, v.created_at DESC, c.course_id
         LIMIT $2 OFFSET $3
        """,
        company_id,
        limit,
        offset,
    )
    total = await conn.fetchval("SELECT count(*) FROM courses WHERE company_id = $1", company_id)
    return [CourseListing.model_validate(dict(r)) for r in rows], int(total or 0)
