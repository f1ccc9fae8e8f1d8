"""The tracker: every event on ``coursegen.>`` into ``cm_agent_handoffs``, once;
job progress kept current; ``job.completed`` when every course run has ended."""

from __future__ import annotations

from faststream.nats import JStream

from coursegen.shared.bus import make_advisory_stream
from coursegen.shared.service import ServiceDefinition, Subscription
from coursegen.shared.settings import Settings
from coursegen.shared.subjects import ALL, MAX_DELIVERIES_ADVISORY
from coursegen.tracker.dead_letters import DeadLetterHandler
from coursegen.tracker.recorder import EventRecorder
from coursegen.tracker.stalls import watch_for_stalls


def advisory_stream(settings: Settings) -> JStream:
    """The dead-letter stream, never declared by the subscriber: ``ensure_streams`` creates it when missing
    and leaves an existing one (its replicas, storage, limits) as the operator made it."""
    return make_advisory_stream(settings, declare=False)


service = ServiceDefinition(
    name="tracker",
    subscriptions=[
        Subscription(ALL, EventRecorder),
        Subscription(MAX_DELIVERIES_ADVISORY, DeadLetterHandler, durable_suffix="dead-letters", stream=advisory_stream),
    ],
    on_start=[watch_for_stalls],
)
