"""Turning a model setting into an Agents SDK model.

``offline``                    the offline model with the agent's own policy
``openai:<model>``             OpenAI's Responses API (or ``openai-chat:<model>`` for
                               Chat Completions, which OpenAI-compatible servers such
                               as Ollama and vLLM speak; ``OPENAI_BASE_URL`` points there)
``litellm:<provider>/<model>`` any provider LiteLLM knows (``pip install litellm``)
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable
from dataclasses import dataclass

from agents import ModelSettings
from agents.models.interface import Model
from agents.retry import ModelRetryBackoffSettings, ModelRetrySettings, retry_policies

from coursegen.shared.errors import PermanentError
from coursegen.shared.models.offline import OfflineModel, Policy
from coursegen.shared.settings import Settings

RETRYABLE_STATUSES = (408, 409, 429, 500, 502, 503, 504)
OPENAI_API_URL = "https://api.openai.com/v1"
PROVIDERS = ("openai", "openai-chat", "litellm")
EXPECTED = "expected offline, openai:<model>, openai-chat:<model> or litellm:<provider>/<model>"


@dataclass(frozen=True)
class ModelChoice:
    """The model of one agent run, and the settings it runs with."""

    model: Model
    name: str
    settings: ModelSettings


def model_settings(retries: int) -> ModelSettings:
    """Retries on 429, 5xx and network errors, honouring ``Retry-After``."""
    return ModelSettings(
        retry=ModelRetrySettings(
            max_retries=retries,
            backoff=ModelRetryBackoffSettings(initial_delay=0.5, max_delay=20.0, multiplier=2.0, jitter=True),
            policy=retry_policies.any(
                retry_policies.retry_after(),
                retry_policies.network_error(),
                retry_policies.http_status(RETRYABLE_STATUSES),
            ),
        )
    )


def _provider_and_name(spec: str) -> tuple[str, str] | None:
    """``provider:name`` of a model setting other than ``offline``; None when it names no model."""
    provider, _, name = spec.partition(":")
    return (provider, name) if provider in PROVIDERS and name else None


def model_problem(spec: str) -> str | None:
    """Why a model setting cannot run here, before any agent tries it; None when it can."""
    spec = spec.strip()
    if spec == "offline":
        return None
    parsed = _provider_and_name(spec)
    if parsed is None:
        return f"{spec!r} is not a model: {EXPECTED}"
    provider, _ = parsed
    if provider == "litellm":
        if importlib.util.find_spec("litellm") is None:
            return f"{spec} needs LiteLLM (pip install 'openai-agents[litellm]')"
        return None
    if not os.environ.get("OPENAI_API_KEY") and not os.environ.get("OPENAI_BASE_URL", "").strip():
        return f"{spec} needs OPENAI_API_KEY (or OPENAI_BASE_URL, for an OpenAI-compatible server)"
    return None


def model_problems(settings: Settings, stages: Iterable[str]) -> list[str]:
    """What is wrong with the model settings of these stages, each naming its variable."""
    problems: dict[str, None] = {}
    for stage in stages:
        own = getattr(settings, f"model_{stage}", None)
        problem = model_problem(settings.model_for(stage))
        if problem:
            variable = f"COURSEGEN_MODEL_{stage.upper()}" if own else "COURSEGEN_MODEL"
            problems[f"{variable}: {problem}"] = None
    return list(problems)


def resolve_model(
    spec: str, policy: Policy, *, timeout: float = 120.0, retries: int = 4, offline_latency: float = 0.0
) -> ModelChoice:
    """The model a setting names; ``policy`` serves the offline model."""
    spec = spec.strip()
    if spec == "offline":
        return ModelChoice(OfflineModel(policy, latency=offline_latency), "offline", ModelSettings())
    parsed = _provider_and_name(spec)
    if parsed is None:
        raise PermanentError(f"{spec!r} is not a model: {EXPECTED}")
    provider, name = parsed
    if provider in ("openai", "openai-chat"):
        from agents import OpenAIChatCompletionsModel, OpenAIResponsesModel
        from openai import AsyncOpenAI

        # An empty OPENAI_BASE_URL (compose's ``${OPENAI_BASE_URL:-}``) means OpenAI itself; the
        # client would take it as the base URL, so it is always given one.
        base_url = os.environ.get("OPENAI_BASE_URL", "").strip()
        # The SDK retries; the client itself must not retry underneath it.
        client = AsyncOpenAI(
            base_url=base_url or OPENAI_API_URL,
            api_key=os.environ.get("OPENAI_API_KEY") or "unset",
            timeout=timeout,
            max_retries=0,
        )
        openai_model: Model
        if provider == "openai-chat" or base_url:
            openai_model = OpenAIChatCompletionsModel(model=name, openai_client=client)
        else:
            openai_model = OpenAIResponsesModel(model=name, openai_client=client)
        return ModelChoice(openai_model, spec, model_settings(retries))
    # litellm:<provider>/<model>
    try:
        from agents.extensions.models.litellm_model import LitellmModel
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise PermanentError("model litellm:…: install LiteLLM first (pip install 'openai-agents[litellm]')") from exc
    return ModelChoice(LitellmModel(model=name), spec, model_settings(retries))
