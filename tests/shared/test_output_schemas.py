"""Every agent's output fields are described to the model: the attribute docstrings reach its JSON schema."""

from __future__ import annotations

from typing import Any

import pytest
from agents import AgentOutputSchema

from tests.helpers import service_definition

STAGES_WITH_AGENTS = ("planner", "researcher", "content", "quality", "enhancer", "multimedia", "finalizer")


def described_fields(schema: dict[str, Any]) -> dict[str, str]:
    """``Model.field`` -> description, over the schema and its definitions."""
    found: dict[str, str] = {}
    for name, definition in [("", schema), *schema.get("$defs", {}).items()]:
        for field, spec in definition.get("properties", {}).items():
            if "description" in spec:
                found[f"{name}.{field}"] = spec["description"]
    return found


@pytest.mark.parametrize("stage", STAGES_WITH_AGENTS)
def test_the_schema_sent_to_the_model_carries_the_field_docs(stage: str) -> None:
    module = __import__(f"coursegen.{stage}.app", fromlist=["spec"])
    agent = module.spec.agent
    schema = AgentOutputSchema(agent.output_type).json_schema()
    described = described_fields(schema)
    assert described, f"{stage}'s output schema describes no field"
    # Each documented field of the output model reaches the model.
    output_type = agent.output_type
    for field, info in output_type.model_fields.items():
        if info.description:
            assert described.get(f".{field}") == info.description, (stage, field)


def test_the_planner_explains_its_fields() -> None:
    from coursegen.planner.agent import CoursePlan

    described = described_fields(AgentOutputSchema(CoursePlan).json_schema())
    assert described[".summary"].startswith("Two sentences")
    assert any(key.endswith(".skills") and "gaps" in text for key, text in described.items())


def test_every_stage_service_is_declared() -> None:
    for stage in STAGES_WITH_AGENTS:
        assert service_definition(stage).name == stage
