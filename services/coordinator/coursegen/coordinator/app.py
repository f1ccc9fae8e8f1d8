"""The coordinator: turns a job request into one course run per employee.

``coursegen.job.requested`` → validate against the database → create the job
and its course runs → hand each run to the planner → ``job.accepted``, or
``job.rejected`` with the reason. ``job.cancel`` stops a job; ``job.resume``
re-drives its failed and stalled runs.
"""

from __future__ import annotations

from coursegen.coordinator.control import ControlHandler
from coursegen.coordinator.requests import RequestHandler
from coursegen.shared.service import ServiceDefinition, Subscription
from coursegen.shared.subjects import JOB_CANCEL, JOB_REQUESTED, JOB_RESUME

service = ServiceDefinition(
    name="coordinator",
    subscriptions=[
        Subscription(JOB_REQUESTED, RequestHandler, durable_suffix="requests"),
        Subscription(JOB_CANCEL, ControlHandler, durable_suffix="cancel"),
        Subscription(JOB_RESUME, ControlHandler, durable_suffix="resume"),
    ],
)
