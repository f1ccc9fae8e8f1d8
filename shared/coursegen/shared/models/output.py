"""The base of every agent's output model."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict


def _without_titles(schema: dict[str, Any]) -> None:
    # Pydantic's titles ("Course Title" for course_title) repeat the field names: the schema is sent on every
    # model call, so they are dropped. Descriptions stay.
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict):
            prop.pop("title", None)


class AgentOutput(BaseModel):
    """An agent's output type. Its fields' attribute docstrings become their descriptions in the JSON
    schema the model is sent, so the model reads what each field means."""

    model_config = ConfigDict(use_attribute_docstrings=True, json_schema_extra=_without_titles)


def compact(value: Any) -> str:
    """A tool result as JSON without whitespace: every character of it is sent again on each later turn."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
