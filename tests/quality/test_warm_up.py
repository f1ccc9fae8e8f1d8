"""The quality service loads its readability data when it starts, off the event loop."""

from __future__ import annotations

from typing import Any

from coursegen.quality.app import service, warm_up


def test_the_service_warms_up_when_it_starts() -> None:
    assert warm_up in service.on_start


async def test_warming_up_measures_a_sentence_without_error() -> None:
    runtime: Any = None  # it needs nothing of the service
    await warm_up(runtime)
