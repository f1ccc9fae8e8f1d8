"""The researcher's hosted web search: off by default, and only ever on OpenAI's Responses API."""

from __future__ import annotations

import uuid

import pytest
from agents import FunctionTool, WebSearchTool

from coursegen.researcher.agent import WEB_SEARCH_INSTRUCTIONS, Finding, ResearchFindings, Source
from coursegen.researcher.app import spec, store
from coursegen.shared.errors import AgentFailed
from coursegen.shared.events import Handoff
from coursegen.shared.models import resolve_model
from coursegen.shared.settings import Settings
from coursegen.shared.stage import RunInfo, StageContext
from coursegen.shared.store.runs import CourseRun, RunStatus

KB_TOOLS = ["get_module_sources"]


def tools_of(model: str, *, web_search: bool) -> list[str]:
    settings = Settings(_env_file=None, research_web_search=web_search)  # type: ignore[call-arg]
    agent = spec.agent_for(resolve_model(model, spec.policy), settings)
    return [t.name if isinstance(t, FunctionTool) else type(t).__name__ for t in agent.tools]


@pytest.fixture(autouse=True)
def _openai_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def test_web_search_is_off_unless_switched_on(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).research_web_search is False  # type: ignore[call-arg]
    assert tools_of("openai:gpt-4o-mini", web_search=False) == KB_TOOLS
    monkeypatch.setenv("COURSEGEN_RESEARCH_WEB_SEARCH", "true")
    assert Settings(_env_file=None).research_web_search is True  # type: ignore[call-arg]


def test_a_responses_model_gets_the_hosted_web_search() -> None:
    settings = Settings(_env_file=None, research_web_search=True)  # type: ignore[call-arg]
    agent = spec.agent_for(resolve_model("openai:gpt-4o-mini", spec.policy), settings)

    assert [type(t) for t in agent.tools] == [FunctionTool, WebSearchTool]
    assert isinstance(agent.instructions, str) and agent.instructions.endswith(WEB_SEARCH_INSTRUCTIONS)
    # The declared agent is left as it was: the next run on another model must not inherit the tool.
    assert [t.name for t in spec.agent.tools] == KB_TOOLS


@pytest.mark.parametrize("model", ["offline", "openai-chat:gpt-4o-mini"])
def test_models_that_cannot_run_hosted_tools_never_get_it(model: str) -> None:
    assert tools_of(model, web_search=True) == KB_TOOLS


def test_an_openai_compatible_server_never_gets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # With OPENAI_BASE_URL, openai:<model> speaks Chat Completions to that server.
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert tools_of("openai:gpt-4o-mini", web_search=True) == KB_TOOLS


async def test_a_web_source_is_refused_while_web_search_is_off() -> None:
    handoff = Handoff.create(
        stage="researcher",
        from_stage="planner",
        job_id=uuid.uuid4(),
        company_id=uuid.uuid4(),
        employee_id=uuid.uuid4(),
        session_id="s",
        module_index=0,
    )
    findings = ResearchFindings(
        summary="One finding from the web.",
        findings=[Finding(skill="SQL", statement="Indexes speed up selective queries.", source_ref=1)],
        sources=[
            Source(ref=1, passage_id="", document="A page", heading="", quote="Indexes help.", url="https://x.test/")
        ],
    )
    run = CourseRun(
        session_id="s",
        job_id=handoff.job_id,
        company_id=handoff.company_id,  # type: ignore[arg-type]
        employee_id=handoff.employee_id,
        status=RunStatus.RUNNING,
        epoch=0,
        current_stage="researcher",
        modules_total=1,
        modules_done=0,
    )
    ctx = StageContext(db=None, handoff=handoff, run=run, settings=Settings(_env_file=None))  # type: ignore[arg-type, call-arg]

    with pytest.raises(AgentFailed, match="sources name passages that are not in the knowledge base"):
        await store(None, ctx, findings, RunInfo(tool_calls=[], turns=1, duration_seconds=0.1))  # type: ignore[arg-type]
