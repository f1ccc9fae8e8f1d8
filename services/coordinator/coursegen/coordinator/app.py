"""The coordinator: turns a job request into one course run per employee.

``coursegen.job.requested`` → validate against the database → create the job
and its course runs → hand each run to the planner → ``job.accepted``, or
``job.rejected`` with the reason. ``job.cancel`` stops a job; ``job.resume``
re-drives its failed and stalled runs. ``review.outline`` and ``review.module``
resume a run that waits for a person, or send one module back through the pipeline.
"""

from __future__ import annotations

from coursegen.coordinator.control import ControlHandler
from coursegen.coordinator.requests import RequestHandler
from coursegen.coordinator.review import ReviewHandler
from coursegen.shared.service import ServiceDefinition, Subscription
from coursegen.shared.subjects import JOB_CANCEL, JOB_REQUESTED, JOB_RESUME, REVIEW_MODULE, REVIEW_OUTLINE

service = ServiceDefinition(
    name="coordinator",
    subscriptions=[
        Subscription(JOB_REQUESTED, RequestHandler, durable_suffix="requests"),
        Subscription(JOB_CANCEL, ControlHandler, durable_suffix="cancel"),
        Subscription(JOB_RESUME, ControlHandler, durable_suffix="resume"),
        Subscription(REVIEW_OUTLINE, ReviewHandler, durable_suffix="review-outline"),
        Subscription(REVIEW_MODULE, ReviewHandler, durable_suffix="review-module"),
    ],
)
