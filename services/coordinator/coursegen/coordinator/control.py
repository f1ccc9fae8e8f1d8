"""``job.cancel`` and ``job.resume``: checked against the job's own company, like everything else."""

from __future__ import annotations

import logging
import uuid

from pydantic import ValidationError

from coursegen.shared.consume import Delivery
from coursegen.shared.errors import InvalidEvent, LimitExceeded, PermanentError, TenantMismatch
from coursegen.shared.events import JobControl
from coursegen.shared.jobs import cancel_job, resume_job
from coursegen.shared.service import Runtime
from coursegen.shared.stage import record_permanent_failure
from coursegen.shared.store import jobs, limits
from coursegen.shared.subjects import JOB_CANCEL

log = logging.getLogger("coursegen.coordinator")


class ControlHandler:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    async def handle(self, delivery: Delivery) -> None:
        try:
            control = JobControl.model_validate_json(delivery.body)
        except ValidationError as exc:
            raise InvalidEvent(f"not a valid job control event: {exc.error_count()} error(s)") from exc
        if control.company_id is None:
            raise TenantMismatch("a job control event must name its company_id")
        async with self.rt.db.connection() as conn:
            job = await jobs.get_company_job(conn, control.company_id, control.job_id)
        if job is None:
            # Another company's job does not exist, and the answer does not say whether it does.
            raise TenantMismatch(f"company {control.company_id} has no job {control.job_id}")
        if delivery.subject == JOB_CANCEL:
            await cancel_job(self.rt.db, self.rt.bus, job, reason=control.reason)
            return
        if not await self._resume_allowed(job.company_id):
            limit = self.rt.settings.max_resumes_per_minute_per_company
            raise LimitExceeded(f"the company asked for {limit} resumes in the last minute, the most it may")
        await resume_job(self.rt.db, self.rt.bus, job)

    async def _resume_allowed(self, company_id: uuid.UUID) -> bool:
        async with self.rt.db.transaction() as conn:
            await limits.lock_company(conn, company_id)
            if await limits.requests_last_minute(conn, company_id, limits.RequestKind.RESUME) >= (
                self.rt.settings.max_resumes_per_minute_per_company
            ):
                return False
            await limits.record_request(conn, company_id, limits.RequestKind.RESUME)
        return True

    async def on_permanent(self, delivery: Delivery, error: PermanentError) -> None:
        await record_permanent_failure(self.rt.db, self.rt.bus, "coordinator", delivery, error)
