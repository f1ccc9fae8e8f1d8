"""The multimedia agent: a diagram, its alt text and a narration script for one module."""

from __future__ import annotations

import mermaid_render
from agents import Agent
from pydantic import field_validator

from coursegen.multimedia.tools import get_module_outline
from coursegen.shared.events import ModuleHandoff
from coursegen.shared.models import AgentOutput
from coursegen.shared.stage import StageContext

INSTRUCTIONS = """\
Add media to one module. Call get_module_outline. Draw its learning flow as a Mermaid
flowchart that parses, alt text that conveys it without sight, and a 2-3 minute narration."""


class Media(AgentOutput):
    diagram_mermaid: str
    """Mermaid source of a flowchart of the module's learning flow."""
    alt_text: str
    narration_script: str

    @field_validator("diagram_mermaid")
    @classmethod
    def _parses(cls, source: str) -> str:
        try:
            mermaid_render.mermaid_to_svg(source)
        except mermaid_render.renderer.RenderError as exc:
            raise ValueError(f"the Mermaid diagram does not parse: {exc}") from exc
        return source


multimedia_agent = Agent[StageContext[ModuleHandoff]](
    name="multimedia",
    instructions=INSTRUCTIONS,
    tools=[get_module_outline],
    output_type=Media,
)
