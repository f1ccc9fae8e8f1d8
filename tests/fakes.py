"""Stand-ins for unit tests of handlers: a delivery without NATS and a bus that records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from coursegen.shared.events import Event


@dataclass
class FakeDelivery:
    subject: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    attempt: int = 1
    settled: list[str] = field(default_factory=list)
    heartbeats: int = 0

    async def ack(self) -> None:
        self.settled.append("ack")

    async def nak(self, delay: float) -> None:
        self.settled.append(f"nak:{delay}")

    async def term(self) -> None:
        self.settled.append("term")

    async def in_progress(self) -> None:
        self.heartbeats += 1


@dataclass
class RecordingBus:
    published: list[tuple[str, Event]] = field(default_factory=list)

    async def publish(self, subject: str, event: Event, *, headers: Mapping[str, str] | None = None) -> None:
        self.published.append((subject, event))
