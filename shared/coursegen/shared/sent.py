"""What one model call is sent, counted by part, and what an agent run was sent over its turns.

A call sends the agent's instructions, its tool definitions (name, description,
parameters), the output schema, and the conversation so far: the prompt, the
model's own tool calls and the tools' results. Every call after the first
sends all of that again, plus what the previous turn added.

:class:`SentTally` splits a run's input tokens into what was sent for the first
time, by kind, and ``repeats``: everything a later turn re-sent. The parts add
up to the run's input tokens as the offline model counts them
(:func:`call_tokens` is its count), so a per-stage table shows exactly where the
tokens go. With a real model the provider's usage is the total and the parts
are tiktoken's estimate of it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from agents import Agent, AgentOutputSchema, AgentOutputSchemaBase, FunctionTool, RunContextWrapper

from coursegen.shared import tokens


def tool_definition(tool: Any) -> dict[str, Any]:
    """A tool as the Responses API is sent it: name, description, parameters."""
    if isinstance(tool, FunctionTool):
        return {
            "type": "function",
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.params_json_schema,
            "strict": tool.strict_json_schema,
        }
    return {"type": getattr(tool, "name", type(tool).__name__)}


@lru_cache(maxsize=512)
def _count_cached(text: str) -> int:
    # Instructions and schemas are the same text on every call of every run of a stage.
    return tokens.count_text(text)


def _count_static(obj: Any) -> int:
    return _count_cached(obj if isinstance(obj, str) else json.dumps(obj, default=str, ensure_ascii=False))


def _get(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, dict) else getattr(item, key, None)


@dataclass(frozen=True)
class CallTokens:
    """The tokens of one model call, by part."""

    instructions: int
    schemas: int
    """Tool definitions and the output schema."""
    items: tuple[tuple[str, int], ...]
    """Each input item's kind (``tool_result``, ``tool_call``, ``message``) and tokens, in order."""

    @property
    def total(self) -> int:
        return self.instructions + self.schemas + sum(n for _, n in self.items)


def _item_kind(item: Any) -> str:
    kind = _get(item, "type")
    if kind == "function_call_output":
        return "tool_result"
    if kind == "function_call":
        return "tool_call"
    return "message"


def call_tokens(
    instructions: str | None, tools: Sequence[Any], output_schema: Any, input: str | Sequence[Any]
) -> CallTokens:
    """What one model call is sent, by part; ``output_schema`` is the schema's JSON (a dict) or None."""
    schemas = [tool_definition(t) for t in tools]
    if output_schema is not None:
        schemas.append(output_schema)
    items: list[Any] = [{"role": "user", "content": input}] if isinstance(input, str) else list(input)
    return CallTokens(
        instructions=_count_static(instructions or ""),
        schemas=_count_static(schemas) if schemas else 0,
        items=tuple((_item_kind(i), tokens.count(_plain(i))) for i in items),
    )


def _plain(item: Any) -> Any:
    dump = getattr(item, "model_dump", None)
    return dump(exclude_unset=True) if callable(dump) else item


@dataclass
class SentTally:
    """What an agent run's model calls were sent, first sends by kind, and repeats."""

    instructions: int = 0
    schemas: int = 0
    tool_results: int = 0
    other: int = 0
    """The prompt and the model's own tool calls, as first sent."""
    repeats: int = 0
    """What a later turn re-sent: instructions, schemas and the conversation so far."""
    _calls: int = 0
    _items_sent: int = 0

    @property
    def total(self) -> int:
        return self.instructions + self.schemas + self.tool_results + self.other + self.repeats

    def add(self, call: CallTokens) -> None:
        self._calls += 1
        if self._calls == 1:
            self.instructions += call.instructions
            self.schemas += call.schemas
        else:
            self.repeats += call.instructions + call.schemas
        for index, (kind, n) in enumerate(call.items):
            if index < self._items_sent:
                self.repeats += n
            elif kind == "tool_result":
                self.tool_results += n
            else:
                self.other += n
        self._items_sent = max(self._items_sent, len(call.items))

    async def add_call(
        self, context: RunContextWrapper[Any], agent: Agent[Any], instructions: str | None, input: Any
    ) -> None:
        """Count a call the SDK is about to make (from ``RunHooks.on_llm_start``)."""
        tools = await agent.get_all_tools(context)
        self.add(call_tokens(instructions, tools, output_schema_of(agent.output_type), input))


@lru_cache(maxsize=64)
def _schema_of(output_type: type[Any]) -> dict[str, Any]:
    return AgentOutputSchema(output_type).json_schema()


def output_schema_of(output_type: Any) -> dict[str, Any] | None:
    """The output schema the SDK sends for an agent's ``output_type`` (None for plain text)."""
    if output_type is None or output_type is str:
        return None
    if isinstance(output_type, AgentOutputSchemaBase):
        return output_type.json_schema()
    return _schema_of(output_type)
