"""Models for the agents: the offline model and the resolution of ``COURSEGEN_MODEL``."""

from coursegen.shared.models.offline import OfflineModel, Policy, PolicyView, ToolCall
from coursegen.shared.models.output import AgentOutput, compact
from coursegen.shared.models.resolve import ModelChoice, model_problems, resolve_model

__all__ = [
    "AgentOutput",
    "ModelChoice",
    "OfflineModel",
    "Policy",
    "PolicyView",
    "ToolCall",
    "compact",
    "model_problems",
    "resolve_model",
]
