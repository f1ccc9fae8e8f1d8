"""One whole course through the Agents SDK's real Chat Completions model, against a stub server on 127.0.0.1.

``openai-chat:<model>`` with ``OPENAI_BASE_URL`` is how an OpenAI-compatible
server (vLLM, Ollama, a LiteLLM proxy) is used. The stub rate-limits its first
request; the SDK's retry settings must carry the run through it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from agents.tracing import get_trace_provider
from agents.tracing.processors import BatchTraceProcessor

from coursegen.shared.settings import Settings
from coursegen.shared.subjects import STAGES
from tests.employees import ONE_MODULE
from tests.helpers import make_company, pipeline, request_job, wait_for_job
from tests.openai_stub import COMPLETION_TOKENS, OpenAIStub, serving


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIStub]:
    with serving(OpenAIStub(), monkeypatch) as server:
        yield server


async def test_a_course_through_an_openai_compatible_server(
    settings: Settings, db: asyncpg.Pool[Any], stub: OpenAIStub
) -> None:
    chat = settings.model_copy(update={"model": "openai-chat:stub-model", "model_retries": 3})
    company_id, employees = await make_company(db, employees=[ONE_MODULE])
    async with pipeline(chat):
        job_id = await request_job(chat, company_id, list(employees.values()))
        job = await wait_for_job(db, job_id, timeout=90)
        processors = get_trace_provider()._multi_processor._processors  # type: ignore[attr-defined]

    assert job["status"] == "completed", job
    session_id = await db.fetchval("SELECT session_id FROM course_runs WHERE job_id = $1", job_id)
    course = await db.fetchrow("SELECT * FROM assembled_courses WHERE session_id = $1", session_id)
    assert course is not None and course["total_modules"] == 1
    assert f"# {course['title']}" in course["markdown"] and "SQL" in course["markdown"]

    # The first request was answered 429; the SDK waited and sent the same request again.
    first, second = stub.requests[0], stub.requests[1]
    assert first.status == 429 and second.status == 200
    assert first.agent == second.agent == "planner" and first.messages == second.messages
    runs = [dict(r) for r in await db.fetch("SELECT * FROM agent_runs WHERE session_id = $1", session_id)]
    planner = next(r for r in runs if r["stage"] == "planner")
    assert planner["attempt"] == 1, "the retry happened inside the agent run, not by redelivery"

    # Every agent ran on the stub, and the stored tokens are the stub's usage, not tiktoken's.
    seen = stub.for_session(session_id)
    mine = [r for r in seen if r.status == 200]
    assert {r.agent for r in mine} == set(STAGES)
    assert all(r["model"] == "openai-chat:stub-model" and r["status"] == "succeeded" for r in runs)
    assert {r["stage"] for r in runs} == set(STAGES)
    for stage in STAGES:
        answered = [r for r in mine if r.agent == stage]
        stored = [r for r in runs if r["stage"] == stage]
        # The SDK counts the rate-limited attempt as a request too.
        assert sum(r["requests"] for r in stored) == len([r for r in seen if r.agent == stage]), stage
        assert sum(r["input_tokens"] for r in stored) == sum(r.prompt_tokens for r in answered), stage
        assert sum(r["output_tokens"] for r in stored) == COMPLETION_TOKENS * len(answered), stage
    # Final answers were asked for in the output type's JSON schema.
    finals = [r for r in mine if r.answer == "content"]
    assert len(finals) == len(runs)
    assert all(r.response_format and r.response_format["type"] == "json_schema" for r in finals)

    # Nothing was exported to OpenAI's trace backend, although an API key was set.
    assert not any(isinstance(p, BatchTraceProcessor) for p in processors)
    assert all(r.status != 404 for r in stub.requests)
