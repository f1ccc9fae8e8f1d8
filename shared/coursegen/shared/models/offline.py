"""The offline model: the Agents SDK's ``Model`` interface with no network.

Each agent brings a deterministic policy: given what its tools returned so far,
it names the next tool calls or composes the final output. The SDK runs its
full loop around it (tool execution, output validation, usage, tracing), so
the pipeline is exercised for real. Usage is counted with tiktoken over what a
real model would have been sent: instructions, tool definitions (name,
description, parameters), the output schema and the input
(:func:`coursegen.shared.sent.call_tokens`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from agents import ModelResponse, Usage
from agents.models.interface import Model, ModelTracing
from agents.tracing import generation_span
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText
from pydantic import BaseModel

from coursegen.shared import tokens
from coursegen.shared.sent import call_tokens


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass
class PolicyView:
    """What a policy sees of the conversation."""

    prompt: str
    """The user input of the run (references: session, module, revision)."""
    results: dict[str, list[Any]]
    """Tool name -> the parsed outputs of its calls so far, in call order."""

    def result(self, tool: str) -> Any:
        """The latest output of a tool; KeyError when it was not called."""
        return self.results[tool][-1]

    def called(self, tool: str) -> bool:
        return tool in self.results


Decision = list[ToolCall] | BaseModel | dict[str, Any]
Policy = Callable[[PolicyView], Decision]


def _get(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, dict) else getattr(item, key, None)


def _parse(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def read_view(input: str | list[Any]) -> PolicyView:
    if isinstance(input, str):
        return PolicyView(prompt=input, results={})
    prompt: list[str] = []
    names: dict[str, str] = {}
    results: dict[str, list[Any]] = {}
    for item in input:
        kind = _get(item, "type")
        if kind == "function_call":
            names[_get(item, "call_id")] = _get(item, "name")
        elif kind == "function_call_output":
            name = names.get(_get(item, "call_id"), "?")
            results.setdefault(name, []).append(_parse(_get(item, "output")))
        elif kind != "message" and _get(item, "role") == "user":
            content = _get(item, "content")
            if isinstance(content, str):
                prompt.append(content)
            else:
                prompt.extend(str(_get(p, "text") or "") for p in content)
    return PolicyView(prompt="\n".join(prompt), results=results)


class OfflineModel(Model):
    """A ``Model`` whose answers come from a deterministic policy."""

    def __init__(self, policy: Policy, name: str = "offline", *, latency: float = 0.0) -> None:
        self.policy = policy
        self.name = name
        self.latency = latency
        self._calls = 0

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[Any],
        model_settings: Any,
        tools: list[Any],
        output_schema: Any,
        handoffs: list[Any],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: Any = None,
    ) -> ModelResponse:
        self._calls += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        decision = self.policy(read_view(input))
        output: list[Any]
        if isinstance(decision, list):
            output = [
                ResponseFunctionToolCall(
                    type="function_call",
                    id=f"fc_{self._calls}_{i}",
                    call_id=f"call_{self._calls}_{i}",
                    name=call.name,
                    arguments=json.dumps(call.arguments),
                    status="completed",
                )
                for i, call in enumerate(decision)
            ]
        else:
            text = decision.model_dump_json() if isinstance(decision, BaseModel) else json.dumps(decision)
            output = [
                ResponseOutputMessage(
                    type="message",
                    id=f"msg_{self._calls}",
                    role="assistant",
                    status="completed",
                    content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
                )
            ]
        schema = output_schema.json_schema() if output_schema is not None else None
        input_tokens = call_tokens(system_instructions, tools, schema, input).total
        output_tokens = tokens.count([o.model_dump() for o in output])
        with generation_span(model=self.name, disabled=tracing.is_disabled()) as span:
            if tracing.include_data():
                span.span_data.input = [{"role": "system", "content": system_instructions or ""}]
                span.span_data.output = [o.model_dump() for o in output]
            span.span_data.usage = {"input_tokens": input_tokens, "output_tokens": output_tokens}
        usage = Usage(
            requests=1,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=input_tokens + output_tokens,
        )
        return ModelResponse(output=output, usage=usage, response_id=f"offline-{self._calls}")

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError("the offline model answers whole turns; use Runner.run")
        yield  # an async generator, as the interface requires
