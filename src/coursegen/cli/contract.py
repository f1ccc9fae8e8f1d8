"""``coursegen asyncapi``: the events' contract."""

from __future__ import annotations

import json

import typer

from coursegen.shared.contract import asyncapi as asyncapi_document


def asyncapi() -> None:
    """Print the AsyncAPI document of coursegen's events (subjects, payload schemas, meanings)."""
    typer.echo(json.dumps(asyncapi_document(), indent=2))
