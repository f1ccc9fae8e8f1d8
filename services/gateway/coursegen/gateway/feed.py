"""Live progress: one subscription per gateway process, fanned out to every open event stream of a job.

One ordered JetStream consumer on ``coursegen.>`` sees every event. For each
job somebody watches there is one ``JobWatch``: it keeps the job's recent
events (so a reconnecting browser resumes after its ``Last-Event-ID``) and
reads the job's state from the store once per burst of events, for all of its
watchers together; a watcher never polls the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from coursegen.shared.subjects import ALL, STREAM

log = logging.getLogger("coursegen.gateway.feed")

RECENT_EVENTS = 2000
"""Events kept per watched job for streams that reconnect."""
QUEUE_SIZE = 256
LINGER_SECONDS = 120.0
"""How long a job stays watched after its last stream closed, for streams that reconnect."""
SETTLE_SECONDS = 0.25
"""Events arriving together are read once: the state is read this long after the first of a burst."""
FOLLOW_UP_SECONDS = 1.0
"""A second read after a burst catches the tracker's update of the job row, which follows the event."""


@dataclass(frozen=True)
class FeedEvent:
    """One event on the bus about a job: its stream sequence is its SSE id."""

    seq: int
    subject: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Snapshot:
    """The state of a job as the store has it, read once for every watcher."""

    version: int
    value: Any
    rendered: dict[str, str] = field(default_factory=dict)
    """The value rendered for each kind of stream (HTML, JSON), rendered once for all streams of that kind."""

    def render(self, kind: str, render: Callable[[Any], str]) -> str:
        if kind not in self.rendered:
            self.rendered[kind] = render(self.value)
        return self.rendered[kind]


Item = FeedEvent | Snapshot
Loader = Callable[[uuid.UUID, uuid.UUID], Awaitable[Any]]
"""Reads a job's state: (company id, job id) → something to send."""


@dataclass
class JobWatch:
    company_id: uuid.UUID
    job_id: uuid.UUID
    load: Loader
    queues: set[asyncio.Queue[Item]] = field(default_factory=set)
    recent: deque[FeedEvent] = field(default_factory=lambda: deque(maxlen=RECENT_EVENTS))
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    latest: Snapshot | None = None
    version: int = 0
    task: asyncio.Task[None] | None = None
    linger: asyncio.TimerHandle | None = None

    async def run(self) -> None:
        while True:
            await self.changed.wait()
            await asyncio.sleep(SETTLE_SECONDS)
            self.changed.clear()
            await self._read()
            try:
                await asyncio.wait_for(self.changed.wait(), FOLLOW_UP_SECONDS)
            except TimeoutError:
                await self._read()

    async def _read(self) -> None:
        try:
            value = await self.load(self.company_id, self.job_id)
        except Exception:  # a database hiccup must not end the live view; the next event reads again
            log.exception("could not read job %s for its watchers", self.job_id)
            return
        self.version += 1
        self.latest = Snapshot(self.version, value)
        self._send(self.latest)

    def _send(self, item: Item) -> None:
        for queue in list(self.queues):
            with contextlib.suppress(asyncio.QueueFull):  # a stalled watcher misses events; snapshots catch it up
                queue.put_nowait(item)


class JobFeed:
    """The process's one subscription to the bus, and the jobs being watched."""

    def __init__(self, load: Loader) -> None:
        self.load = load
        self._watches: dict[tuple[uuid.UUID, uuid.UUID], JobWatch] = {}
        self._by_job: dict[uuid.UUID, set[tuple[uuid.UUID, uuid.UUID]]] = {}
        self._subscription: Any = None
        self.received = 0

    async def start(self, js: JetStreamContext) -> None:
        self._subscription = await js.subscribe(
            ALL, stream=STREAM, cb=self._on_message, ordered_consumer=True, deliver_policy=api.DeliverPolicy.NEW
        )

    async def stop(self) -> None:
        for watch in list(self._watches.values()):
            if watch.task:
                watch.task.cancel()
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()

    @property
    def watchers(self) -> int:
        return sum(len(w.queues) for w in self._watches.values())

    async def _on_message(self, msg: Msg) -> None:
        self.received += 1
        try:
            data = json.loads(msg.data)
            job_id = uuid.UUID(str(data.get("job_id")))
        except (ValueError, TypeError, AttributeError):
            return
        keys = self._by_job.get(job_id)
        if not keys:
            return
        try:
            seq = int(msg.metadata.sequence.stream)
        except Exception:  # a JetStream message always has its metadata; a plain one gets 0
            seq = 0
        event = FeedEvent(seq=seq, subject=msg.subject, data=data)
        for key in keys:
            watch = self._watches[key]
            watch.recent.append(event)
            watch._send(event)
            watch.changed.set()

    @contextlib.asynccontextmanager
    async def watch(
        self, company_id: uuid.UUID, job_id: uuid.UUID, *, last_event_id: int | None = None
    ) -> AsyncIterator[asyncio.Queue[Item]]:
        """A queue of the job's events and state snapshots: first the events after ``last_event_id`` that this
        process still holds, then the current state, then whatever happens."""
        key = (company_id, job_id)
        watch = self._watches.get(key)
        if watch is not None and watch.linger is not None:
            watch.linger.cancel()
            watch.linger = None
        if watch is None:
            watch = JobWatch(company_id, job_id, self.load)
            self._watches[key] = watch
            self._by_job.setdefault(job_id, set()).add(key)
            watch.task = asyncio.create_task(watch.run())
        queue: asyncio.Queue[Item] = asyncio.Queue(QUEUE_SIZE)
        if last_event_id is not None:
            missed = [event for event in watch.recent if event.seq > last_event_id]
            for event in missed[-(QUEUE_SIZE - 1) :]:
                queue.put_nowait(event)
        if watch.latest is not None:
            queue.put_nowait(watch.latest)
        else:
            watch.changed.set()  # the first watcher of a job: read its state now
        watch.queues.add(queue)
        try:
            yield queue
        finally:
            watch.queues.discard(queue)
            if not watch.queues:
                # Kept a while, still recording events, so a browser that reconnects misses nothing.
                watch.linger = asyncio.get_running_loop().call_later(LINGER_SECONDS, self._forget, key)

    def _forget(self, key: tuple[uuid.UUID, uuid.UUID]) -> None:
        watch = self._watches.get(key)
        if watch is None or watch.queues:
            return
        del self._watches[key]
        keys = self._by_job.get(key[1])
        if keys is not None:
            keys.discard(key)
            if not keys:
                self._by_job.pop(key[1], None)
        if watch.task:
            watch.task.cancel()
