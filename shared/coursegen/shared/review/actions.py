"""What reviewers and learners do with courses: the functions the web app, the API and the CLI call.

Every function takes the company of the signed-in user (never one from a request
body) and answers ``NotFound`` for another company's course exactly as for one
that does not exist. A refused action (publishing a version with unchecked
claims and no override, editing a missing section) raises ``Refused`` with a
reason a person can act on. Every person's action is appended to the audit trail
in the same transaction as the change itself.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass, field

from coursegen.shared.review import drafts
from coursegen.shared.review.claims import SECTIONS
from coursegen.shared.review.diff import VersionDiff, diff_versions
from coursegen.shared.store import Connection, Database, learners, reviews, versions
from coursegen.shared.store.learners import ModuleProgress, ProgressStatus, QuizAttempt
from coursegen.shared.store.reviews import AuditEntry

__all__ = ["AuditEntry", "NotFound", "Refused"]
from coursegen.shared.store.versions import ClaimFlag, Course, Version, VersionStatus, VersionSummary


class NotFound(LookupError):
    """No such course or version in this company (another company's does not exist either)."""


class Refused(ValueError):
    """The action is not allowed as asked; the message says why."""


async def _course(conn: Connection, company_id: uuid.UUID, course_id: uuid.UUID) -> Course:
    course = await versions.get_course(conn, company_id, course_id)
    if course is None:
        raise NotFound(f"no course {course_id}")
    return course


async def _version(
    conn: Connection, company_id: uuid.UUID, course_id: uuid.UUID, version: int, *, for_update: bool = False
) -> Version:
    found = await versions.get_version(conn, company_id, course_id, version, for_update=for_update)
    if found is None:
        raise NotFound(f"course {course_id} has no version {version}")
    return found


async def course_for_employee(db: Database, company_id: uuid.UUID, employee_id: uuid.UUID) -> Course:
    async with db.connection(company_id) as conn:
        course = await versions.course_of_employee(conn, company_id, employee_id)
    if course is None:
        raise NotFound(f"employee {employee_id} has no course")
    return course


async def list_versions(db: Database, company_id: uuid.UUID, course_id: uuid.UUID) -> list[VersionSummary]:
    async with db.connection(company_id) as conn:
        await _course(conn, company_id, course_id)
        return await versions.list_versions(conn, company_id, course_id)


async def get_version(db: Database, company_id: uuid.UUID, course_id: uuid.UUID, version: int) -> Version:
    async with db.connection(company_id) as conn:
        return await _version(conn, company_id, course_id, version)


async def claim_flags(db: Database, company_id: uuid.UUID, course_id: uuid.UUID, version: int) -> list[ClaimFlag]:
    """The weak and unsupported claims of a version, for the review page."""
    async with db.connection(company_id) as conn:
        found = await _version(conn, company_id, course_id, version)
        return await versions.claim_flags(conn, company_id, found.version_id)


async def compare(db: Database, company_id: uuid.UUID, course_id: uuid.UUID, before: int, after: int) -> VersionDiff:
    """Two versions side by side: sections, quiz and diagram, module by module."""
    async with db.connection(company_id) as conn:
        a = await _version(conn, company_id, course_id, before)
        b = await _version(conn, company_id, course_id, after)
    return diff_versions(a.version, a.course, b.version, b.course)


async def publish_version(
    db: Database,
    company_id: uuid.UUID,
    course_id: uuid.UUID,
    version: int,
    *,
    actor: str,
    override_reason: str | None = None,
) -> VersionSummary:
    """A person publishes a draft: learners see it from now on, and their progress moves onto it.

    A version with flagged claims is published only with an override and its reason, both recorded.
    """
    async with db.transaction(company_id) as conn:
        await _course(conn, company_id, course_id)
        found = await _version(conn, company_id, course_id, version, for_update=True)
        if found.status is not VersionStatus.DRAFT:
            raise Refused(f"version {version} is {found.status}: only a draft can be published")
        flags = await versions.claim_flags(conn, company_id, found.version_id)
        reason = (override_reason or "").strip() or None
        if flags and reason is None:
            raise Refused(
                f"version {version} has {len(flags)} flagged claim(s) (weak or unsupported by the passage they "
                "cite): review them, or publish with an override and its reason"
            )
        await versions.publish(conn, company_id, found.version_id, by=actor, override_reason=reason if flags else None)
        await learners.carry_over(
            conn, company_id=company_id, course_id=course_id, fingerprints=found.module_fingerprints, version=version
        )
        if flags:
            await reviews.record_action(
                conn,
                company_id=company_id,
                course_id=course_id,
                session_id=found.session_id,
                actor=actor,
                action="version.override",
                details={"version": version, "reason": reason, "open_flags": len(flags)},
            )
        await reviews.record_action(
            conn,
            company_id=company_id,
            course_id=course_id,
            session_id=found.session_id,
            actor=actor,
            action="version.published",
            details={"version": version},
        )
        published = await versions.get_version(conn, company_id, course_id, version)
    assert published is not None
    return published


async def edit_section(
    db: Database,
    company_id: uuid.UUID,
    course_id: uuid.UUID,
    *,
    base_version: int,
    module_index: int,
    section: str,
    text: str,
    actor: str,
) -> Version:
    """A person's direct edit of one section: a new draft version, claims checked again."""
    if section not in SECTIONS:
        raise Refused(f"no section {section!r}: one of {', '.join(SECTIONS)}")
    if not text.strip():
        raise Refused("an edited section cannot be empty")
    async with db.transaction(company_id) as conn:
        await _course(conn, company_id, course_id)
        base = await _version(conn, company_id, course_id, base_version)
        modules = base.course.get("modules", [])
        if not 0 <= module_index < len(modules):
            raise Refused(f"version {base_version} has no module {module_index}")
        old = modules[module_index]["sections"].get(section, "")
        course = json.loads(json.dumps(base.course))
        course["modules"][module_index]["sections"][section] = text
        markdown = base.markdown.replace(old, text, 1) if old and old in base.markdown else base.markdown
        created = await drafts.store_draft(
            conn,
            base,
            round=None,
            origin=versions.Origin.DIRECT_EDIT,
            course=course,
            markdown=markdown,
            created_by=actor,
            based_on=base_version,
        )
        await reviews.record_action(
            conn,
            company_id=company_id,
            course_id=course_id,
            session_id=base.session_id,
            actor=actor,
            action="version.edited",
            details={"version": created.version, "based_on": base_version, "module_index": module_index,
                     "section": section},
        )  # fmt: skip
    return created


@dataclass(frozen=True)
class LearnerModule:
    index: int
    title: str
    objectives: list[str]
    status: str
    """not_started, in_progress, completed, or updated (completed on a version whose objectives changed since)."""
    best_score: float | None


@dataclass(frozen=True)
class LearnerCourse:
    course_id: uuid.UUID
    title: str
    version: int
    modules: list[LearnerModule]
    attempts: list[QuizAttempt] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        return bool(self.modules) and all(m.status == ProgressStatus.COMPLETED for m in self.modules)

    @property
    def completion(self) -> float:
        done = sum(m.status == ProgressStatus.COMPLETED for m in self.modules)
        return done / len(self.modules) if self.modules else 0.0


def _learner_course(version: Version, progress: list[ModuleProgress], attempts: list[QuizAttempt]) -> LearnerCourse:
    status = {p.module_index: p.status for p in progress}
    best: dict[int, float] = {}
    for a in attempts:
        best[a.module_index] = max(best.get(a.module_index, 0.0), a.score)
    return LearnerCourse(
        course_id=version.course_id,
        title=version.title,
        version=version.version,
        modules=[
            LearnerModule(
                index=i,
                title=m["title"],
                objectives=m.get("objectives", []),
                status=str(status.get(i, "not_started")),
                best_score=best.get(i),
            )
            for i, m in enumerate(version.course.get("modules", []))
        ],
        attempts=attempts,
    )


async def learner_courses(db: Database, company_id: uuid.UUID, employee_id: uuid.UUID) -> list[LearnerCourse]:
    """What a learner sees: the published version of each of their courses, with their progress."""
    async with db.connection(company_id) as conn:
        out = []
        for version in await versions.published_courses(conn, company_id, employee_id):
            progress = await learners.progress(conn, company_id, employee_id, version.course_id)
            attempts = await learners.attempts(conn, company_id, employee_id, version.course_id)
            out.append(_learner_course(version, progress, attempts))
    return out


async def _published_for(
    conn: Connection, company_id: uuid.UUID, employee_id: uuid.UUID, course_id: uuid.UUID
) -> Version:
    course = await versions.get_course(conn, company_id, course_id)
    published = await versions.published_version(conn, company_id, course_id) if course else None
    if course is None or course.employee_id != employee_id or published is None:
        raise NotFound(f"no published course {course_id} for this learner")
    return published


async def set_module_progress(
    db: Database,
    company_id: uuid.UUID,
    employee_id: uuid.UUID,
    course_id: uuid.UUID,
    module_index: int,
    *,
    completed: bool,
) -> None:
    """A learner started (or completed) a module of their published course."""
    async with db.transaction(company_id) as conn:
        published = await _published_for(conn, company_id, employee_id, course_id)
        if not 0 <= module_index < len(published.module_fingerprints):
            raise Refused(f"the course has no module {module_index}")
        await learners.set_progress(
            conn,
            company_id=company_id,
            employee_id=employee_id,
            course_id=course_id,
            module_index=module_index,
            fingerprint=published.module_fingerprints[module_index],
            status=ProgressStatus.COMPLETED if completed else ProgressStatus.IN_PROGRESS,
            version=published.version,
        )


async def submit_quiz(
    db: Database, company_id: uuid.UUID, employee_id: uuid.UUID, course_id: uuid.UUID, module_index: int,
    answers: list[int],
) -> QuizAttempt:  # fmt: skip
    """A learner's quiz attempt on a module of their published course, scored against its answer key."""
    async with db.transaction(company_id) as conn:
        published = await _published_for(conn, company_id, employee_id, course_id)
        modules = published.course.get("modules", [])
        if not 0 <= module_index < len(modules):
            raise Refused(f"the course has no module {module_index}")
        quiz = modules[module_index].get("quiz", [])
        if len(answers) != len(quiz):
            raise Refused(f"the quiz has {len(quiz)} question(s); {len(answers)} answer(s) were given")
        correct = sum(1 for q, a in zip(quiz, answers, strict=True) if q["answer_index"] == a)
        return await learners.record_attempt(
            conn,
            company_id=company_id,
            employee_id=employee_id,
            course_id=course_id,
            version=published.version,
            module_index=module_index,
            answers=answers,
            correct=correct,
            total=len(quiz),
        )


async def audit_trail(db: Database, company_id: uuid.UUID, course_id: uuid.UUID) -> list[AuditEntry]:
    """Who approved, edited, rejected, published and overrode what on a course, and when; oldest first."""
    async with db.connection(company_id) as conn:
        await _course(conn, company_id, course_id)
        return await reviews.audit_trail(conn, company_id, course_id)


AUDIT_CSV_COLUMNS = ("at", "actor", "action", "course_id", "session_id", "details")


def audit_csv(entries: list[AuditEntry]) -> str:
    """The audit trail as CSV (RFC 4180), one action a row; details as JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(AUDIT_CSV_COLUMNS)
    for e in entries:
        writer.writerow(
            [e.at.isoformat(), e.actor, e.action, e.course_id or "", e.session_id or "",
             json.dumps(e.details, sort_keys=True)]
        )  # fmt: skip
    return out.getvalue()
