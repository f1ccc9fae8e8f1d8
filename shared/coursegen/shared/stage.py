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
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar

import asyncpg
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
    classify,
)
from coursegen.shared.events import Event, Handoff, StageFailed, derived_id, loose_ids
from coursegen.shared.models import ModelChoice, Policy, resolve_model
from coursegen.shared.service import Runtime, ServiceDefinition, Subscription
from coursegen.shared.settings import Settings
from coursegen.shared.store import Executor
from coursegen.shared.store.agent_runs import AgentRunRecord, insert_agent_run
from coursegen.shared.store.rejected import record_rejected
from coursegen.shared.store.runs import (
    get_run,
    job_status,
    mark_run_failed,
    mark_stage_started,
    token_budget,
    tokens_used,
)
from coursegen.shared.subjects import STAGE_FAILED, Stage, handoff_subject

log = logging.getLogger("coursegen.stage")

OutputT = TypeVar("OutputT", bound=BaseModel)

LOCK_POLL_SECONDS = 0.5
"""How often a delivery waiting for another's unit of work tries its lock."""
LOCK_WAIT_ACK_WAITS = 2
"""How long it waits, in ack waits, before it gives the message back for later."""


@dataclass
class StageContext:
    """What an agent's tools can reach: the store and the unit of work, never the bus."""

    db: Executor
    handoff: Handoff
    settings: Settings
    scratch: dict[str, Any] = field(default_factory=dict)
    """Tools may leave derived facts here for ``store`` (e.g. the computed skill gaps)."""


class SpendTally(RunHooks[Any]):
    """What a run has spent so far, kept outside it: a run that fails still accounts for its tokens."""

    def __init__(self) -> None:
        self.usage = Usage()
        self.turns = 0
        self.tool_calls = 0

    async def on_llm_end(self, context: RunContextWrapper[Any], agent: Agent[Any], response: ModelResponse) -> None:
        self.usage.add(response.usage)
        self.turns += 1

    async def on_tool_end(self, context: RunContextWrapper[Any], agent: Agent[Any], tool: Tool, result: object) -> None:
        self.tool_calls += 1


@dataclass(frozen=True)
class RunInfo:
    """How the agent run went, for the artifact's own bookkeeping columns."""

    tool_calls: list[str]
    turns: int
    duration_seconds: float


class Claim(Enum):
    """What a stage's ``claim`` hook decides about a handoff."""

    RUN = "run"
    """Run the agent."""
    DONE = "done"
    """The output is stored already: skip the agent, publish the next events."""
    WAIT = "wait"
    """Nothing to do for this message (e.g. the finalizer waits for other modules)."""


@dataclass(frozen=True)
class StageSpec(Generic[OutputT]):
    """The declaration of a stage service."""

    name: Stage
    agent: Agent[StageContext]
    policy: Policy
    """The offline model's policy for this agent."""
    claim: Callable[[Executor, Handoff], Awaitable[Claim]]
    """RUN, DONE (output already stored) or WAIT."""
    store: Callable[[Executor, StageContext, OutputT, RunInfo], Awaitable[None]]
    """Store the output; runs inside the transaction that also stores the agent-run record."""
    route: Callable[[Executor, Handoff], Awaitable[list[tuple[str, Event]]]]
    """The next (subject, event) pairs, computed from what is stored."""
    prompt: Callable[[Handoff], str] | None = None
    """The input of the agent run: references only. Defaults to ``references``."""
    adapt: Callable[[Agent[StageContext], ModelChoice, Settings], Agent[StageContext]] | None = None
    """Fits the agent to the model it runs on (e.g. a hosted tool only that model can run)."""
    per_course: bool = False
    """The agent runs once per course run, whichever module's handoff brings it about (the finalizer)."""

    def agent_for(self, choice: ModelChoice, settings: Settings) -> Agent[StageContext]:
        """The agent as it runs on ``choice``."""
        agent = self.agent.clone(model=choice.model, model_settings=choice.settings)
        return agent if self.adapt is None else self.adapt(agent, choice, settings)


def hand_on(
    to: Stage, *, revision: int | None = None
) -> Callable[[Executor, Handoff], Awaitable[list[tuple[str, Event]]]]:
    """A stage's route when it always hands on to one next stage (same module; ``revision`` to reset it)."""

    async def route(db: Executor, h: Handoff) -> list[tuple[str, Event]]:
        return [(handoff_subject(to), h.next(to, revision=revision))]

    return route


def references(h: Handoff) -> str:
    """The whole input an agent gets: which unit of work, never the work itself."""
    module = "" if h.module_index is None else f" module_index={h.module_index}"
    return f"session_id={h.session_id}{module} revision={h.revision}"


@dataclass
class StageRunner(Generic[OutputT]):
    """Runs the protocol for one stage service."""

    spec: StageSpec[OutputT]
    db: asyncpg.Pool[Any]
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
        status = await job_status(self.db, handoff.job_id)
        if status is None:
            raise PermanentError(f"job {handoff.job_id} does not exist")
        if status == "cancelled":
            log.info("job %s is cancelled; dropping %s", handoff.job_id, delivery.subject)
            return
        run = await get_run(self.db, handoff.session_id)
        if run is None:
            raise PermanentError(f"course run {handoff.session_id} does not exist")
        if run["status"] in ("failed", "cancelled", "no_gaps") and handoff.epoch <= run["epoch"]:
            # The run has ended; a resume re-drives it with a newer epoch.
            log.info("course run %s is %s; dropping %s", handoff.session_id, run["status"], delivery.subject)
            return
        claim = await self.spec.claim(self.db, handoff)
        telemetry.describe_work(handoff, claim=claim.value)
        if claim is Claim.WAIT:
            return
        if claim is Claim.RUN:
            async with self._exclusive(handoff, delivery):
                # Checked again under the lock: another delivery may have just done the work.
                claim = await self.spec.claim(self.db, handoff)
                telemetry.describe_work(handoff, claim=claim.value)
                if claim is Claim.RUN:
                    await mark_stage_started(self.db, handoff.session_id, self.spec.name)
                    async with heartbeat(delivery, every=self._heartbeat_every):
                        await self.run_agent(handoff, attempt=delivery.attempt)
        for subject, event in await self.spec.route(self.db, handoff):
            await self.bus.publish(subject, event)

    def unit(self, h: Handoff) -> tuple[int | None, int]:
        """The (module, revision) of the work a handoff asks for; a per-course stage works once per course."""
        return (None, 0) if self.spec.per_course else (h.module_index, h.revision)

    @property
    def _heartbeat_every(self) -> float:
        return max(1.0, self.settings.ack_wait_seconds / 3)

    def lock_key(self, h: Handoff) -> int:
        """The PostgreSQL advisory-lock key of the unit of work a handoff asks for."""
        module, revision = self.unit(h)
        digest = hashlib.blake2b(f"{h.session_id}:{self.spec.name}:{module}:{revision}".encode(), digest_size=8)
        return int.from_bytes(digest.digest(), "big", signed=True)

    @contextlib.asynccontextmanager
    async def _exclusive(self, h: Handoff, delivery: Delivery) -> AsyncIterator[None]:
        """Hold the unit of work's advisory lock while its agent runs.

        The lock lives on the connection, so a worker that dies releases it with its
        connection. When another delivery holds it, this one waits, heartbeating. It must
        not ack: the other copy is usually this very message, redelivered because its first
        worker fell behind on heartbeats, and an ack here would settle the message that
        worker holds. Were that worker to die then, nothing would bring the work back.
        """
        key = self.lock_key(h)
        async with self.db.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                telemetry.describe_work(h, claim="busy")
                log.info("%s work for %s is under way elsewhere; waiting for it", self.spec.name, h.session_id)
                await self._wait_for_lock(conn, key, h, delivery)
            try:
                yield
            finally:
                with contextlib.suppress(Exception):  # a lost connection has released it already
                    await conn.execute("SELECT pg_advisory_unlock($1)", key)

    async def _wait_for_lock(self, conn: Any, key: int, h: Handoff, delivery: Delivery) -> None:
        """Until the other delivery finishes or its worker dies; past a bound, the message comes back later."""
        deadline = time.monotonic() + LOCK_WAIT_ACK_WAITS * self.settings.ack_wait_seconds
        async with heartbeat(delivery, every=self._heartbeat_every):
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                if time.monotonic() > deadline:
                    raise RetryableError(f"{self.spec.name} work for {h.session_id} is still under way elsewhere")
                await asyncio.sleep(LOCK_POLL_SECONDS)

    def parse(self, delivery: Delivery) -> Handoff:
        try:
            handoff = Handoff.model_validate_json(delivery.body)
        except ValidationError as exc:
            raise InvalidEvent(f"not a valid handoff: {_short(exc)}") from exc
        if handoff.stage != self.spec.name:
            raise InvalidEvent(f"handoff for stage {handoff.stage!r} arrived at {self.spec.name!r}")
        if self.spec.name != "planner" and handoff.module_index is None:
            raise InvalidEvent(f"handoff to {self.spec.name} needs a module_index")
        return handoff

    async def run_agent(self, handoff: Handoff, *, attempt: int) -> None:
        await self._check_budget(handoff)
        model_spec = self.settings.model_for(self.spec.name)
        choice = resolve_model(
            model_spec,
            self.spec.policy,
            timeout=self.settings.model_timeout_seconds,
            retries=self.settings.model_retries,
            offline_latency=self.settings.offline_latency_seconds,
        )
        context = StageContext(db=self.db, handoff=handoff, settings=self.settings)
        prompt = (self.spec.prompt or references)(handoff)
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
            await self._record_failed_run(handoff, choice.name, attempt, started, error, spent)
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
            status="succeeded",
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            requests=usage.requests,
            turns=len(result.raw_responses),
            tool_calls=len(tool_calls),
            duration_ms=int(duration * 1000),
            input_text_tokens=usage.input_tokens,
            transcript_tokens=tokens.count([prompt, result.to_input_list()]),
        )
        metrics.agent_run(
            self.spec.name,
            choice.name,
            "succeeded",
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
        )
        info = RunInfo(tool_calls=tool_calls, turns=record.turns, duration_seconds=duration)
        await self._store(context, output, record, info)  # type: ignore[arg-type]

    def _run_record(self, handoff: Handoff, *, model: str, attempt: int, status: str, **counts: Any) -> AgentRunRecord:
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

    async def _store(self, context: StageContext, output: OutputT, record: AgentRunRecord, info: RunInfo) -> None:
        pool = self.db
        try:
            async with pool.acquire() as conn, conn.transaction():
                if await insert_agent_run(conn, record) is not None:
                    await self.spec.store(conn, context, output, info)
                    return
        except asyncpg.UniqueViolationError:
            pass  # the artifact's own unique key caught it: stored by another delivery
        # Another replica stored this unit of work first: its output stands, and the tokens
        # this run spent are recorded as a re-run, so they are counted and not hidden.
        log.info("%s output for %s was stored by another delivery", self.spec.name, record.session_id)
        await insert_agent_run(self.db, dataclasses.replace(record, status="discarded"))

    async def _check_budget(self, handoff: Handoff) -> None:
        budget = await token_budget(self.db, handoff.job_id)
        if budget is None and self.settings.token_budget is not None:
            budget = self.settings.token_budget
        if budget is not None:
            used = await tokens_used(self.db, handoff.job_id)
            if used >= budget:
                raise BudgetExceeded(f"the job's token budget of {budget} is spent ({used} used)")

    async def _record_failed_run(
        self, handoff: Handoff, model: str, attempt: int, started: float, error: Exception, spent: SpendTally
    ) -> None:
        """The failed run's record, with what its model calls spent before it failed (counted in the budget)."""
        try:
            await insert_agent_run(
                self.db,
                self._run_record(
                    handoff,
                    model=model,
                    attempt=attempt,
                    status="failed",
                    input_tokens=spent.usage.input_tokens,
                    output_tokens=spent.usage.output_tokens,
                    input_text_tokens=spent.usage.input_tokens,
                    requests=spent.usage.requests,
                    turns=spent.turns,
                    tool_calls=spent.tool_calls,
                    duration_ms=int((time.monotonic() - started) * 1000),
                    error=str(error)[:2000],
                ),
            )
        except Exception:
            log.warning("could not record the failed agent run", exc_info=True)

    async def on_permanent(self, delivery: Delivery, error: PermanentError) -> None:
        """A permanent failure: the course run fails with its error and ``stage.failed`` says so."""
        await record_permanent_failure(self.db, self.bus, self.spec.name, delivery, error)


async def record_permanent_failure(
    db: Executor, bus: Bus, service: str, delivery: Delivery, error: PermanentError
) -> None:
    """Record a message that failed for good: the run it belongs to fails, ``stage.failed`` is published."""
    try:
        handoff: Handoff | None = Handoff.model_validate_json(delivery.body)
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
    if handoff is None:
        await record_rejected(
            db,
            subject=delivery.subject,
            service=service,
            reason=str(error),
            body=delivery.body,
            headers=delivery.headers,
        )
        failed = StageFailed(
            **outcome,
            # Not the broken message's own event_id: this failure is an event of its own.
            **{k: v for k, v in loose_ids(delivery.body).items() if k != "event_id"},
        )
    else:
        await mark_run_failed(
            db,
            handoff.session_id,
            stage=service,
            kind=error.kind,
            message=str(error),
            attempts=delivery.attempt,
        )
        failed = StageFailed.about(handoff, event_id=derived_id("failed", handoff.msg_id, delivery.attempt), **outcome)
    await bus.publish(STAGE_FAILED, failed)


def _short(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def stage_service(spec: StageSpec[Any]) -> ServiceDefinition:
    """The service of a stage: its durable consumer on ``coursegen.handoff.<stage>``, running the protocol."""

    def make_handler(runtime: Runtime) -> StageRunner[Any]:
        return StageRunner(spec=spec, db=runtime.db, bus=runtime.bus, settings=runtime.settings, worker=runtime.worker)

    return ServiceDefinition(name=spec.name, subscriptions=[Subscription(handoff_subject(spec.name), make_handler)])
