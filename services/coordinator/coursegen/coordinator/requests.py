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
            job_id, employees = await self.create_job(request)
        except Rejected as exc:
            await self.reject(
                str(exc), {"event_id": request.event_id, "company_id": request.company_id, "job_id": request.job_id}
            )
            return
        sessions = [session_id_for(job_id, e) for e in employees]
        for employee_id, session_id in zip(employees, sessions, strict=True):
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
                employee_ids=employees,
                session_ids=sessions,
            ),
        )

    async def create_job(self, request: JobRequested) -> tuple[uuid.UUID, list[uuid.UUID]]:
        """Validate and create the job with its runs, once per request (a redelivery finds it)."""
        db = self.rt.db
        async with db.acquire() as conn, conn.transaction():
            existing = await conn.fetchrow(
                "SELECT job_id FROM course_generation_jobs WHERE request_event_id = $1", request.event_id
            )
            if existing is not None:
                rows = await conn.fetch(
                    "SELECT employee_id FROM course_runs WHERE job_id = $1 ORDER BY started_at, employee_id",
                    existing["job_id"],
                )
                return existing["job_id"], [r["employee_id"] for r in rows]
            company = await conn.fetchrow("SELECT id, name FROM companies WHERE id = $1", request.company_id)
            if company is None:
                raise Rejected(f"unknown company {request.company_id}")
            employees = await self.resolve_employees(conn, request)
            job_id = request.job_id or uuid.uuid4()
            if await conn.fetchval("SELECT 1 FROM course_generation_jobs WHERE job_id = $1", job_id):
                raise Rejected(f"job {job_id} exists already (from another request)")
            budget = request.token_budget or self.rt.settings.token_budget
            await conn.execute(
                """
                INSERT INTO course_generation_jobs (job_id, company_id, initiated_by, total_employees, status,
                                                    current_phase, job_config, request_event_id, started_at)
                VALUES ($1, $2, $3, $4, 'pending', 'planning', $5, $6, now())
                """,
                job_id,
                request.company_id,
                request.requested_by,
                len(employees),
                {"token_budget": budget, "employee_ids": [str(e) for e in employees]},
                request.event_id,
            )
            await conn.executemany(
                """
                INSERT INTO course_runs (session_id, job_id, company_id, employee_id, status, current_stage)
                VALUES ($1, $2, $3, $4, 'pending', 'planner')
                """,
                [(session_id_for(job_id, e), job_id, request.company_id, e) for e in employees],
            )
        return job_id, employees

    async def resolve_employees(self, conn: Any, request: JobRequested) -> list[uuid.UUID]:
        if request.all_employees:
            rows = await conn.fetch(
                "SELECT id FROM employees WHERE company_id = $1 AND is_active ORDER BY full_name, id",
                request.company_id,
            )
            if not rows:
                raise Rejected(f"company {request.company_id} has no active employees")
            return [r["id"] for r in rows]
        wanted = list(dict.fromkeys(request.employee_ids))
        if not wanted:
            raise Rejected("no employees: give employee_ids, or all_employees: true")
        rows = await conn.fetch("SELECT id, company_id, is_active FROM employees WHERE id = ANY($1::uuid[])", wanted)
        found = {r["id"]: r for r in rows}
        unknown = [str(e) for e in wanted if e not in found]
        if unknown:
            raise Rejected(f"unknown employee(s): {', '.join(unknown)}")
        foreign = [str(e) for e in wanted if found[e]["company_id"] != request.company_id]
        if foreign:
            raise Rejected(f"employee(s) of another company: {', '.join(foreign)}")
        inactive = [str(e) for e in wanted if not found[e]["is_active"]]
        if inactive:
            raise Rejected(f"inactive employee(s): {', '.join(inactive)}")
        return wanted

    async def reject(self, reason: str, ids: dict[str, Any]) -> None:
        log.warning("job request rejected: %s", reason)
        request_event_id = ids.get("event_id")
        await self.rt.bus.publish(
            JOB_REJECTED,
            JobRejected(
                event_id=uuid.uuid5(request_event_id, "rejected") if request_event_id else uuid.uuid4(),
                request_event_id=request_event_id,
                job_id=ids.get("job_id"),
                company_id=ids.get("company_id"),
                source="coordinator",
                reason=reason,
            ),
        )

    async def on_permanent(self, delivery: Delivery, error: PermanentError) -> None:
        # Anything unexpected still answers the client: a request never vanishes.
        await self.reject(f"internal error: {error}", loose_ids(delivery.body))


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
