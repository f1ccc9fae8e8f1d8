"""The stage protocol, the same for all seven stages.

1. Parse the handoff. Invalid → terminate, record it, publish ``stage.failed``.
2. Job cancelled (or the run already ended) → ack and stop.
3. Output already stored for this (session, stage, module, revision)? → skip
   the agent (0 tokens) and go to 5. This is how resume and redelivery cost
   nothing.
4. Run the agent (heartbeats keep the message from being redelivered), then
   store its output and its agent-run record in one transaction.
5. Publish the next events, computed from what is stored, each with a
   deterministic ``Nats-Msg-Id``, awaiting the publish ack.
6. Ack (done by ``consume.settle``).

A stage service only declares a ``StageSpec``: its agent, how its output is
found and stored, and where it hands off.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, Literal, TypeVar

from agents import Agent, RunConfig, RunContextWrapper, RunHooks, Runner, Tool
from agents.items import ModelResponse, ToolCallItem
from agents.usage import Usage
from pydantic import BaseModel, ValidationError

from coursegen.shared import metrics, telemetry, tokens
from coursegen.shared.bus import Bus
from coursegen.shared.consume import Delivery, heartbeat
from coursegen.shared.errors import (
    AgentFailed,
    BudgetExceeded,
    InvalidEvent,
    PermanentError,
    RetryableError,
    TenantMismatch,
    classify,
)
from coursegen.shared.events import Event, Handoff, StageFailed, derived_id, loose_ids
from coursegen.shared.models import ModelChoice, Policy, resolve_model
from coursegen.shared.sent import SentTally
from coursegen.shared.service import Runtime, ServiceDefinition, Subscription
from coursegen.shared.settings import Settings
from coursegen.shared.store import AlreadyStored, Connection, Database, locks, scoped_session, unit_of_work
from coursegen.shared.store.agent_runs import AgentRunRecord, AgentRunStatus, insert_agent_run, tokens_used
from coursegen.shared.store.jobs import JobStatus, get_job
from coursegen.shared.store.rejected import record_rejected
from coursegen.shared.store.runs import CourseRun, RunStatus, fail_run, get_run, start_stage
from coursegen.shared.subjects import STAGE_FAILED, Stage, handoff_subject

log = logging.getLogger("coursegen.stage")

OutputT = TypeVar("OutputT", bound=BaseModel)
HandoffT = TypeVar("HandoffT", bound=Handoff)

LOCK_POLL_SECONDS = 0.5
"""How often a delivery waiting for another's unit of work tries its lock."""
LOCK_WAIT_ACK_WAITS = 2
"""How long it waits, in ack waits, before it gives the message back for later."""


@dataclass(frozen=True)
class StageContext(Generic[HandoffT]):
    """What an agent's tools can reach: the store and the unit of work, never the bus.

    ``run`` is the stored course run: company, employee and job come from it, never
    from the message.
    """

    db: Database
    handoff: HandoffT
    run: CourseRun
    settings: Settings

    @property
    def module_index(self) -> int:
        """The module of a per-module stage's work."""
        index = self.handoff.module_index
        if index is None:
            raise InvalidEvent(f"{self.handoff.stage} handoff without a module_index")
        return index


class SpendTally(RunHooks[Any]):
    """What a run has spent so far, kept outside it: a run that fails still accounts for its tokens."""

    def __init__(self) -> None:
        self.usage = Usage()
        self.turns = 0
        self.tool_calls = 0
        self.sent = SentTally()

    async def on_llm_start(
        self, context: RunContextWrapper[Any], agent: Agent[Any], system_prompt: str | None, input_items: list[Any]
    ) -> None:
        await self.sent.add_call(context, agent, system_prompt, input_items)

    async def on_llm_end(self, context: RunContextWrapper[Any], agent: Agent[Any], response: ModelResponse) -> None:
        self.usage.add(response.usage)
        self.turns += 1

    async def on_tool_end(self, context: RunContextWrapper[Any], agent: Agent[Any], tool: Tool, result: object) -> None:
        self.tool_calls += 1

    def sent_counts(self) -> dict[str, int]:
        """The agent-run record's split of the input tokens (see :mod:`coursegen.shared.sent`)."""
        s = self.sent
        return {
            "instruction_tokens": s.instructions,
            "schema_tokens": s.schemas,
            "tool_result_tokens": s.tool_results,
            "repeat_tokens": s.repeats,
        }


@dataclass(frozen=True)
class RunInfo:
    """How the agent run went, for the artifact's own bookkeeping columns."""

    tool_calls: list[str]
    turns: int
    duration_seconds: float


class Claim(Enum):
    """What a stage's ``claim`` decides about a handoff."""

    RUN = "run"
    """Run the agent."""
    DONE = "done"
    """The output is stored already: skip the agent, publish the next events."""
    WAIT = "wait"
    """Nothing to do for this message (the finalizer waits for the other modules)."""


Route = Callable[[Connection, HandoffT], Awaitable[list[tuple[str, Event]]]]


@dataclass(frozen=True)
class StageSpec(Generic[HandoffT, OutputT]):
    """The declaration of a stage service: a row of the pipeline's table."""

    name: Stage
    handoff: type[HandoffT]
    """What the stage consumes: ``CourseHandoff`` (the whole course) or ``ModuleHandoff``."""
    agent: Agent[StageContext[HandoffT]]
    policy: Policy
    """The offline model's policy for this agent."""
    claim: Callable[[Connection, HandoffT], Awaitable[Claim]]
    """RUN, DONE (output already stored) or WAIT. The finalizer's join is its claim."""
    store: Callable[[Connection, StageContext[HandoffT], OutputT, RunInfo], Awaitable[None]]
    """Store the output; runs inside the transaction that also stores the agent-run record."""
    route: Route[HandoffT]
    """The next (subject, event) pairs, computed from what is stored. The planner's fan-out is its route."""
    unit: Literal["module", "course"] = "module"
    """What one agent run is for: each (module, revision) the handoffs name, or the whole course
    once, whichever module's handoff brings it about (the finalizer)."""
    adapt: Callable[[Agent[StageContext[HandoffT]], ModelChoice, Settings], Agent[StageContext[HandoffT]]] | None = None
    """Fits the agent to the model it runs on (e.g. a hosted tool only that model can run)."""

    def agent_for(self, choice: ModelChoice, settings: Settings) -> Agent[StageContext[HandoffT]]:
        """The agent as it runs on ``choice``."""
        agent = self.agent.clone(model=choice.model, model_settings=choice.settings)
        return agent if self.adapt is None else self.adapt(agent, choice, settings)


def claim_unless(
    stored: Callable[[Connection, HandoffT], Awaitable[bool]],
) -> Callable[[Connection, HandoffT], Awaitable[Claim]]:
    """A stage's claim: run the agent unless its output is stored (then it costs nothing)."""

    async def claim(conn: Connection, h: HandoffT) -> Claim:
        return Claim.DONE if await stored(conn, h) else Claim.RUN

    return claim


def hand_on(to: Stage, *, revision: int | None = None) -> Route[Any]:
    """A stage's route when it always hands on to one next stage (same module; ``revision`` to reset it)."""

    async def route(conn: Connection, h: Handoff) -> list[tuple[str, Event]]:
        return [(handoff_subject(to), h.next(to, revision=revision))]

    return route


def references(h: Handoff) -> str:
    """The whole input an agent gets: which unit of work, never the work itself."""
    module = "" if h.module_index is None else f" module_index={h.module_index}"
    return f"session_id={h.session_id}{module} revision={h.revision}"


def check_tenancy(h: Handoff, run: CourseRun | None) -> CourseRun:
    """The stored run this handoff is about; a message that disagrees with it is refused."""
    if run is None:
        raise TenantMismatch(f"course run {h.session_id} does not exist")
    if (h.company_id, h.employee_id, h.job_id) != (run.company_id, run.employee_id, run.job_id):
        raise TenantMismatch(
            f"the handoff names a company, employee or job that course run {h.session_id} does not belong to"
        )
    return run


@dataclass
class StageRunner(Generic[HandoffT, OutputT]):
    """Runs the protocol for one stage service."""

    spec: StageSpec[HandoffT, OutputT]
    db: Database
    bus: Bus
    settings: Settings
    worker: str | None = None

    async def handle(self, delivery: Delivery) -> None:
        with telemetry.stage_span(
            self.spec.name, attempt=delivery.attempt, sensitive=self.settings.trace_sensitive_data
        ):
            await self._handle(delivery)

    async def _handle(self, delivery: Delivery) -> None:
        handoff = self.parse(delivery)
        telemetry.describe_work(handoff)
        # One connection for the whole message: the checks, the claim, the lock, the store, the route.
        async with self.db.connection() as conn:
            run = await self._current_run(conn, handoff, delivery)
            if run is None:
                return
            # From here on, the message's work sees only the run's company (row-level security).
            async with scoped_session(conn, run.company_id):
                events = await self._work(conn, handoff, run, delivery)
        for subject, event in events:
            await self.bus.publish(subject, event)

    async def _work(
        self, conn: Connection, handoff: HandoffT, run: CourseRun, delivery: Delivery
    ) -> list[tuple[str, Event]]:
        """Claim the unit of work, run the agent when it is this delivery's to do, and route on."""
        claim = await self.spec.claim(conn, handoff)
        telemetry.describe_work(handoff, claim=claim.value)
        if claim is Claim.WAIT:
            return []
        if claim is Claim.RUN:
            async with self._exclusive(conn, handoff, delivery):
                # Checked again under the lock: another delivery may have just done the work.
                claim = await self.spec.claim(conn, handoff)
                telemetry.describe_work(handoff, claim=claim.value)
                if claim is Claim.RUN:
                    if not await start_stage(conn, handoff.session_id, self.spec.name, review_round=handoff.round):
                        log.info("course run %s ended meanwhile; dropping %s", handoff.session_id, delivery.subject)
                        return []
                    async with heartbeat(delivery, every=self._heartbeat_every):
                        await self.run_agent(conn, handoff, run, attempt=delivery.attempt)
        return await self.spec.route(conn, handoff)

    async def _current_run(self, conn: Connection, h: HandoffT, delivery: Delivery) -> CourseRun | None:
        """The stored run, when this handoff is still work to do; None to drop the message."""
        run = check_tenancy(h, await get_run(conn, h.session_id))
        job = await get_job(conn, run.job_id)
        if job is None or job.status is JobStatus.CANCELLED:
            log.info("job %s is cancelled; dropping %s", run.job_id, delivery.subject)
            return None
        if run.status in (RunStatus.FAILED, RunStatus.CANCELLED) and h.epoch <= run.epoch:
            # The run has ended; a resume re-drives it with a newer epoch. A completed or skipped
            # run goes on: its stored outputs hand on again, so its closing event is never lost.
            log.info("course run %s is %s; dropping %s", h.session_id, run.status, delivery.subject)
            return None
        return run

    def unit(self, h: Handoff) -> tuple[int | None, int]:
        """The (module, revision) of the work a handoff asks for; a per-course stage works once per course
        and review round (its record's revision is the round)."""
        return (None, h.round) if self.spec.unit == "course" else (h.module_index, h.revision)

    @property
    def _heartbeat_every(self) -> float:
        return max(1.0, self.settings.ack_wait_seconds / 3)

    def lock_key(self, h: Handoff) -> int:
        """The PostgreSQL advisory-lock key of the unit of work a handoff asks for."""
        module, revision = self.unit(h)
        digest = hashlib.blake2b(f"{h.session_id}:{self.spec.name}:{module}:{revision}".encode(), digest_size=8)
        return int.from_bytes(digest.digest(), "big", signed=True)

    @contextlib.asynccontextmanager
    async def _exclusive(self, conn: Connection, h: Handoff, delivery: Delivery) -> AsyncIterator[None]:
        """Hold the unit of work's advisory lock while its agent runs.

        The lock lives on the connection, so a worker that dies releases it with its
        connection. When another delivery holds it, this one waits, heartbeating. It must
        not ack: the other copy is usually this very message, redelivered because its first
        worker fell behind on heartbeats, and an ack here would settle the message that
        worker holds. Were that worker to die then, nothing would bring the work back.
        """
        key = self.lock_key(h)
        if not await locks.try_lock(conn, key):
            telemetry.describe_work(h, claim="busy")
            log.info("%s work for %s is under way elsewhere; waiting for it", self.spec.name, h.session_id)
            await self._wait_for_lock(conn, key, h, delivery)
        try:
            yield
        finally:
            await locks.unlock(conn, key)

    async def _wait_for_lock(self, conn: Connection, key: int, h: Handoff, delivery: Delivery) -> None:
        """Until the other delivery finishes or its worker dies; past a bound, the message comes back later."""
        deadline = time.monotonic() + LOCK_WAIT_ACK_WAITS * self.settings.ack_wait_seconds
        async with heartbeat(delivery, every=self._heartbeat_every):
            while not await locks.try_lock(conn, key):
                if time.monotonic() > deadline:
                    raise RetryableError(f"{self.spec.name} work for {h.session_id} is still under way elsewhere")
                await asyncio.sleep(LOCK_POLL_SECONDS)

    def parse(self, delivery: Delivery) -> HandoffT:
        try:
            handoff = self.spec.handoff.model_validate_json(delivery.body)
        except ValidationError as exc:
            raise InvalidEvent(f"not a valid handoff: {_short(exc)}") from exc
        if handoff.stage != self.spec.name:
            raise InvalidEvent(f"handoff for stage {handoff.stage!r} arrived at {self.spec.name!r}")
        return handoff

    async def run_agent(self, conn: Connection, handoff: HandoffT, run: CourseRun, *, attempt: int) -> None:
        await self._check_budget(conn, run)
        model_spec = self.settings.model_for(self.spec.name)
        choice = resolve_model(
            model_spec,
            self.spec.policy,
            timeout=self.settings.model_timeout_seconds,
            retries=self.settings.model_retries,
            offline_latency=self.settings.offline_latency_seconds,
        )
        # The tools' connections are the run's company's too.
        context = StageContext(db=self.db.scoped(run.company_id), handoff=handoff, run=run, settings=self.settings)
        prompt = references(handoff)
        agent = self.spec.agent_for(choice, self.settings)
        started = time.monotonic()
        spent = SpendTally()
        try:
            result = await Runner.run(
                agent,
                prompt,
                context=context,
                max_turns=self.settings.max_turns,
                hooks=spent,
                run_config=RunConfig(
                    workflow_name=f"coursegen.{self.spec.name}",
                    group_id=handoff.session_id,
                    trace_include_sensitive_data=self.settings.trace_sensitive_data,
                ),
            )
        except Exception as exc:
            error = classify(exc)
            metrics.agent_run(
                self.spec.name,
                choice.name,
                "failed",
                input_tokens=spent.usage.input_tokens,
                output_tokens=spent.usage.output_tokens,
            )
            await self._record_failed_run(
                conn, self._spent_record(handoff, choice.name, attempt, started, spent), error
            )
            raise error from exc
        output = result.final_output
        if not isinstance(output, BaseModel):
            raise AgentFailed(f"{self.spec.name} returned {type(output).__name__}, not its output model")
        usage = result.context_wrapper.usage
        tool_calls = [item.raw_item.name for item in result.new_items if isinstance(item, ToolCallItem)]  # type: ignore[union-attr]
        duration = time.monotonic() - started
        record = self._run_record(
            handoff,
            model=choice.name,
            attempt=attempt,
            status=AgentRunStatus.SUCCEEDED,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            requests=usage.requests,
            turns=len(result.raw_responses),
            tool_calls=len(tool_calls),
            duration_ms=int(duration * 1000),
            input_text_tokens=usage.input_tokens,
            transcript_tokens=tokens.count([prompt, result.to_input_list()]),
            **spent.sent_counts(),
        )
        metrics.agent_run(
            self.spec.name,
            choice.name,
            "succeeded",
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
        )
        info = RunInfo(tool_calls=tool_calls, turns=record.turns, duration_seconds=duration)
        await self._store(conn, context, output, record, info)  # type: ignore[arg-type]

    def _run_record(
        self, handoff: Handoff, *, model: str, attempt: int, status: AgentRunStatus, **counts: Any
    ) -> AgentRunRecord:
        """The agent-run record of this stage's work on a handoff; counts default to zero."""
        zero = dict.fromkeys(("input_tokens", "output_tokens", "requests", "turns", "tool_calls", "duration_ms"), 0)
        module, revision = self.unit(handoff)
        return AgentRunRecord(
            job_id=handoff.job_id,
            session_id=handoff.session_id,
            employee_id=handoff.employee_id,
            stage=self.spec.name,
            module_index=module,
            revision=revision,
            model=model,
            attempt=attempt,
            status=status,
            worker=self.worker,
            **{**zero, **counts},
        )

    def _spent_record(
        self, handoff: Handoff, model: str, attempt: int, started: float, spent: SpendTally
    ) -> AgentRunRecord:
        return self._run_record(
            handoff,
            model=model,
            attempt=attempt,
            status=AgentRunStatus.FAILED,
            input_tokens=spent.usage.input_tokens,
            output_tokens=spent.usage.output_tokens,
            input_text_tokens=spent.usage.input_tokens,
            requests=spent.usage.requests,
            turns=spent.turns,
            tool_calls=spent.tool_calls,
            duration_ms=int((time.monotonic() - started) * 1000),
            **spent.sent_counts(),
        )

    async def _store(
        self,
        conn: Connection,
        context: StageContext[HandoffT],
        output: OutputT,
        record: AgentRunRecord,
        info: RunInfo,
    ) -> None:
        try:
            async with unit_of_work(conn):
                if await insert_agent_run(conn, record) is not None:
                    await self.spec.store(conn, context, output, info)
                    return
        except AlreadyStored:
            pass  # the artifact's own unique key caught it: stored by another delivery
        except Exception as exc:
            # The output could not be stored: the run's tokens were spent all the same.
            await self._record_failed_run(conn, dataclasses.replace(record, status=AgentRunStatus.FAILED), exc)
            raise
        # Another replica stored this unit of work first: its output stands, and the tokens
        # this run spent are recorded as a re-run, so they are counted and not hidden.
        log.info("%s output for %s was stored by another delivery", self.spec.name, record.session_id)
        await insert_agent_run(conn, dataclasses.replace(record, status=AgentRunStatus.DISCARDED))

    async def _check_budget(self, conn: Connection, run: CourseRun) -> None:
        job = await get_job(conn, run.job_id)
        budget = job.token_budget if job is not None else None
        if budget is None:
            budget = self.settings.token_budget
        if budget is not None:
            used = await tokens_used(conn, run.job_id)
            if used >= budget:
                raise BudgetExceeded(f"the job's token budget of {budget} is spent ({used} used)")

    async def _record_failed_run(self, conn: Connection, record: AgentRunRecord, error: BaseException) -> None:
        """The failed run's record, with what its model calls spent before it failed (counted in the budget)."""
        try:
            await insert_agent_run(conn, dataclasses.replace(record, error=str(classify(error))[:2000]))
        except Exception:
            log.warning("could not record the failed agent run", exc_info=True)

    async def on_permanent(self, delivery: Delivery, error: PermanentError) -> None:
        """A permanent failure: the course run fails with its error and ``stage.failed`` says so."""
        await record_permanent_failure(
            self.db, self.bus, self.spec.name, delivery, error, handoff_type=self.spec.handoff
        )


async def record_permanent_failure(
    db: Database,
    bus: Bus,
    service: str,
    delivery: Delivery,
    error: PermanentError,
    *,
    handoff_type: type[Handoff] = Handoff,
) -> None:
    """Record a message that failed for good, then say so with ``stage.failed``.

    A message that is not a handoff, or that disagrees with its stored course run
    (another company's, a forged one), is kept in ``rejected_messages`` and fails
    nothing. A handoff's own failure fails its course run, unless it is of an epoch
    that a resume has since replaced.
    """
    try:
        handoff: Handoff | None = handoff_type.model_validate_json(delivery.body)
    except ValidationError:
        handoff = None
    outcome: dict[str, Any] = {
        "stage": service,
        "kind": error.kind,
        "message": str(error),
        "attempt": delivery.attempt,
        "subject": delivery.subject,
        "source": service,
    }
    async with db.transaction() as conn:
        if handoff is None or isinstance(error, TenantMismatch):
            await record_rejected(
                conn,
                subject=delivery.subject,
                service=service,
                reason=str(error),
                body=delivery.body,
                headers=delivery.headers,
            )
        else:
            await fail_run(
                conn,
                handoff.session_id,
                epoch=handoff.epoch,
                stage=service,
                kind=error.kind,
                message=str(error),
                attempts=delivery.attempt,
            )
    if handoff is None or isinstance(error, TenantMismatch):
        # Not the broken message's own ids: a refused message speaks for no run.
        ids = {k: v for k, v in loose_ids(delivery.body).items() if k != "event_id"}
        if isinstance(error, TenantMismatch):
            ids = {k: v for k, v in ids.items() if k not in ("session_id", "employee_id", "job_id", "company_id")}
        failed = StageFailed(**outcome, **ids)
    else:
        failed = StageFailed.about(handoff, event_id=derived_id("failed", handoff.msg_id, delivery.attempt), **outcome)
    await bus.publish(STAGE_FAILED, failed)


def _short(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def stage_service(spec: StageSpec[Any, Any]) -> ServiceDefinition:
    """The service of a stage: its durable consumer on ``coursegen.handoff.<stage>``, running the protocol."""

    def make_handler(runtime: Runtime) -> StageRunner[Any, Any]:
        return StageRunner(spec=spec, db=runtime.db, bus=runtime.bus, settings=runtime.settings, worker=runtime.worker)

    return ServiceDefinition(name=spec.name, subscriptions=[Subscription(handoff_subject(spec.name), make_handler)])
