"""Validating a job request and starting its course runs."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from pydantic import ValidationError

from coursegen.shared.consume import Delivery
from coursegen.shared.errors import PermanentError
from coursegen.shared.events import Handoff, JobAccepted, JobRejected, JobRequested, loose_ids
from coursegen.shared.service import Runtime
from coursegen.shared.store import Connection, jobs, limits, people, runs
from coursegen.shared.subjects import JOB_ACCEPTED, JOB_REJECTED, handoff_subject

log = logging.getLogger("coursegen.coordinator")


class Rejected(Exception):
    """The request cannot become a job; the message is the reason the client sees."""


def session_id_for(job_id: uuid.UUID, employee_id: uuid.UUID) -> str:
    """One course run = one employee in one job; stable, so a retried request maps to the same runs."""
    return str(uuid.uuid5(job_id, str(employee_id)))


class RequestHandler:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    async def handle(self, delivery: Delivery) -> None:
        try:
            request = parse_request(delivery.body)
        except Rejected as exc:
            await self.reject(str(exc), loose_ids(delivery.body))
            return
        try:
            job_id, runs = await self.create_job(request)
        except Rejected as exc:
            await self.reject(str(exc), {"event_id": request.event_id, "company_id": request.company_id})
            return
        # From here on the job exists: a failure is retried, never answered with a rejection.
        for employee_id, session_id in runs:
            await self.rt.bus.publish(
                handoff_subject("planner"),
                Handoff.create(
                    stage="planner",
                    from_stage="coordinator",
                    job_id=job_id,
                    company_id=request.company_id,
                    employee_id=employee_id,
                    session_id=session_id,
                ),
            )
        await self.rt.bus.publish(
            JOB_ACCEPTED,
            JobAccepted(
                event_id=uuid.uuid5(job_id, "accepted"),
                job_id=job_id,
                company_id=request.company_id,
                source="coordinator",
                request_event_id=request.event_id,
                employees=len(runs),
            ),
        )

    async def create_job(self, request: JobRequested) -> tuple[uuid.UUID, list[tuple[uuid.UUID, str]]]:
        """Validate and create the job with its runs, once per request (a redelivery finds it)."""
        async with self.rt.db.transaction() as conn:
            existing = await jobs.job_for_request(conn, request.event_id)
            if existing is not None:
                if existing.company_id != request.company_id:
                    # Never mapped onto another company's job, and nothing said about it.
                    raise Rejected("this request's event_id was already used by another request")
                return existing.job_id, await runs.job_runs(conn, existing.job_id)
            if not await people.company_exists(conn, request.company_id):
                raise Rejected(f"unknown company {request.company_id}")
            await self.check_limits(conn, request)
            employees = await self.resolve_employees(conn, request)
            job_id = request.job_id or uuid.uuid4()
            if await jobs.job_exists(conn, job_id):
                # The same words whoever holds the id: nothing is said about another company's job.
                raise Rejected(f"job_id {job_id} cannot be used for a new job: leave it out and one is made")
            await jobs.create_job(
                conn,
                job_id=job_id,
                company_id=request.company_id,
                requested_by=request.requested_by,
                employees=len(employees),
                token_budget=request.token_budget or self.rt.settings.token_budget,
                request_event_id=request.event_id,
                config={"review_outline": request.review_outline},
            )
            new_runs = [(session_id_for(job_id, e), e) for e in employees]
            await runs.create_runs(conn, job_id, request.company_id, new_runs)
        return job_id, [(e, s) for s, e in new_runs]

    async def check_limits(self, conn: Connection, request: JobRequested) -> None:
        """The company's limits, counted under its lock: over one, the request is rejected whole."""
        settings = self.rt.settings
        await limits.lock_company(conn, request.company_id)
        running = await limits.active_jobs(conn, request.company_id)
        if running >= settings.max_active_jobs_per_company:
            raise Rejected(
                f"the company has {running} jobs under way, the most it may have at once "
                f"({settings.max_active_jobs_per_company}): wait for one to end"
            )
        recent = await limits.requests_last_minute(conn, request.company_id, limits.RequestKind.JOB)
        if recent >= settings.max_jobs_per_minute_per_company:
            raise Rejected(
                f"the company asked for {recent} jobs in the last minute, the most it may "
                f"({settings.max_jobs_per_minute_per_company}): try again in a minute"
            )
        await limits.record_request(conn, request.company_id, limits.RequestKind.JOB)

    async def resolve_employees(self, conn: Connection, request: JobRequested) -> list[uuid.UUID]:
        limit = self.rt.settings.max_employees_per_job
        if request.all_employees:
            employees = await people.active_employee_ids(conn, request.company_id)
            if not employees:
                raise Rejected(f"company {request.company_id} has no active employees")
        else:
            employees = list(dict.fromkeys(request.employee_ids))
            if not employees:
                raise Rejected("no employees: give employee_ids, or all_employees: true")
        if len(employees) > limit:
            raise Rejected(
                f"{len(employees)} employees is more than one job may ask for ({limit}): split the request into jobs"
            )
        if request.all_employees:
            return employees
        active, inactive = await people.active_employees_among(conn, request.company_id, employees)
        # Another company's employee is "unknown" here, exactly like one that does not exist.
        unknown = [str(e) for e in employees if e not in active and e not in inactive]
        if unknown:
            raise Rejected(f"unknown employee(s): {', '.join(unknown)}")
        inactive_ids = [str(e) for e in employees if e in inactive]
        if inactive_ids:
            raise Rejected(f"inactive employee(s): {', '.join(inactive_ids)}")
        return employees

    async def reject(self, reason: str, ids: dict[str, Any]) -> None:
        log.warning("job request rejected: %s", reason)
        request_event_id = ids.get("event_id")
        await self.rt.bus.publish(
            JOB_REJECTED,
            JobRejected(
                event_id=uuid.uuid5(request_event_id, "rejected") if request_event_id else uuid.uuid4(),
                request_event_id=request_event_id,
                company_id=ids.get("company_id"),
                source="coordinator",
                reason=reason,
            ),
        )

    async def on_permanent(self, delivery: Delivery, error: PermanentError) -> None:
        # Anything unexpected still answers the client, a request never vanishes; but a request
        # whose job exists was accepted, and is never also rejected.
        ids = loose_ids(delivery.body)
        request_event_id = ids.get("event_id")
        if request_event_id is not None:
            async with self.rt.db.connection() as conn:
                job = await jobs.job_for_request(conn, request_event_id)
            if job is not None and job.company_id == ids.get("company_id"):
                log.error("job %s was created, but handing it on failed for good: %s", job.job_id, error)
                return
        await self.reject(f"internal error: {error}", ids)


def parse_request(body: bytes) -> JobRequested:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise Rejected(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise Rejected("not a JSON object")
    try:
        return JobRequested.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise Rejected(f"invalid job request: {problems}") from exc
