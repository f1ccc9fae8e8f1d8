"""The base of every agent's output model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class AgentOutput(BaseModel):
    """An agent's output type. Its fields' attribute docstrings become their descriptions in the JSON
    schema the model is sent, so the model reads what each field means."""

    model_config = ConfigDict(use_attribute_docstrings=True)
