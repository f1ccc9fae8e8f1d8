"""Claims judged by a model: with a real model the quality agent judges each cited sentence against its passage,
and the version's flags are its verdicts, named by the model; the offline measure covers what it did not judge."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from coursegen.quality.agent import ClaimJudgement, Review
from coursegen.quality.policy import review_policy
from coursegen.shared.models import PolicyView, ToolCall
from coursegen.shared.review import claims
from coursegen.shared.review.drafts import claim_flags
from coursegen.shared.settings import Settings
from tests.employees import ONE_MODULE
from tests.helpers import make_company, pipeline, request_job, wait_for_job
from tests.openai_stub import OpenAIStub, serving

MODULE = {
    "index": 0,
    "sections": {
        "core_content": "Window functions rank rows within a partition [1]. Indexes make every query fast [1].",
    },
    "sources": [{"ref": 1, "heading": "Window functions", "quote": "A window function ranks rows in a partition."}],
}


def test_a_judgement_decides_the_claim_it_names_and_the_offline_measure_the_rest() -> None:
    offline = claims.check_module(MODULE)
    assert [c.verdict for c in offline] == ["supported", "unsupported"]
    first, second = (key for key, _ in claims.cited_claims(MODULE))
    method = claims.entailment_method("openai:judge")
    judged = claims.check_module(MODULE, {first: ("contradicted", method)})
    assert [(c.verdict, c.method) for c in judged] == [("unsupported", method), ("unsupported", claims.OFFLINE_METHOD)]
    stored = [{"module_index": 0, "section": second[1], "sentence": second[2], "ref": 1, "verdict": "entailed",
               "method": method}, {"module_index": 0, "section": "x", "sentence": "gone", "ref": 1, "verdict": "?",
               "method": method}]  # fmt: skip
    # The model's "entailed" clears a claim the word overlap would flag; a stale or unknown judgement is ignored.
    assert claim_flags({"modules": [MODULE]}, stored) == []


def judge(view: PolicyView) -> list[ToolCall] | Review:
    """A judge: the offline reviewer's verdict, and every claim entailed but the first of each module."""
    if not view.called("score_module"):
        return [ToolCall("score_module")]
    if not view.called("cited_claims"):
        return [ToolCall("cited_claims")]
    review = review_policy(view)
    assert isinstance(review, Review)
    verdicts = [
        ClaimJudgement(claim=c["claim"], verdict="contradicted" if c["claim"] == 0 else "entailed")
        for c in view.result("cited_claims")
    ]
    return review.model_copy(update={"claims": verdicts})


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIStub]:
    server = OpenAIStub(rate_limit_first=False)
    server.use_policy("quality", judge)
    with serving(server, monkeypatch) as running:
        yield running


async def test_a_models_entailment_judgements_are_the_versions_flags(
    settings: Settings, db: asyncpg.Pool[Any], stub: OpenAIStub
) -> None:
    chat = settings.model_copy(update={"model": "openai-chat:stub-model", "model_retries": 3})
    company_id, employees = await make_company(db, employees=[ONE_MODULE])
    async with pipeline(chat):
        job_id = await request_job(chat, company_id, list(employees.values()))
        assert (await wait_for_job(db, job_id, timeout=90))["status"] == "completed"

    session_id = await db.fetchval("SELECT session_id FROM course_runs WHERE job_id = $1", job_id)
    assert any(r.agent == "quality" and "cited_claims" in r.tools for r in stub.for_session(session_id))
    version = await db.fetchrow("SELECT version_id, course FROM course_versions WHERE session_id = $1", session_id)
    cited = [key for m in version["course"]["modules"] for key, _ in claims.cited_claims(m)]
    assert cited, "the course cites its sources"
    flags = await db.fetch(
        "SELECT module_index, sentence, verdict, method FROM claim_flags WHERE version_id = $1", version["version_id"]
    )
    method = claims.entailment_method("openai-chat:stub-model")
    # One contradicted claim per module with claims; every other claim was judged entailed, whatever the overlap.
    assert [(f["verdict"], f["method"]) for f in flags] == [("unsupported", method)]
    assert flags[0]["sentence"] == cited[0][2]
    assert len(claims.flags(version["course"])) >= len(flags)
