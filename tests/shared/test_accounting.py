"""Token accounting: the reduction against chained SDK handoffs, prices, and what counts where."""

from __future__ import annotations

import pytest

from coursegen.shared.accounting import Reduction, RunTokens, Tally, handoff_chain_tokens, price_of, token_reduction
from coursegen.shared.settings import DEFAULT_PRICES, Settings

# One course run of three agents, and another of one.
A1 = RunTokens("a", input_tokens=100, turns=2, transcript_tokens=300)
A2 = RunTokens("a", input_tokens=50, turns=3, transcript_tokens=200)
A3 = RunTokens("a", input_tokens=80, turns=1, transcript_tokens=100)
B1 = RunTokens("b", input_tokens=40, turns=2, transcript_tokens=500)


def test_each_call_of_a_chained_agent_resends_every_earlier_conversation() -> None:
    # A1 inherits nothing: 100. A2's 3 calls each carry A1's 300: 50 + 900.
    # A3's one call carries A1's and A2's 500: 80 + 500.
    assert handoff_chain_tokens([A1, A2, A3]) == 100 + 950 + 580
    assert handoff_chain_tokens([B1]) == 40
    assert handoff_chain_tokens([]) == 0


def test_the_reduction_sums_course_runs_and_never_mixes_their_histories() -> None:
    reduction = token_reduction([A1, B1, A2, A3])  # interleaved, as the runs of a job are

    assert reduction == Reduction(actual=230 + 40, counterfactual=1630 + 40)
    assert reduction.ratio == pytest.approx(1 - 270 / 1670)
    assert token_reduction([A1, A2, A3]).ratio == pytest.approx(0.858895, abs=1e-6)


def test_a_lone_agent_saves_nothing_and_no_agent_has_no_figure() -> None:
    assert token_reduction([B1]).ratio == 0
    assert token_reduction([]).ratio is None
    assert Reduction(10, 40) + Reduction(5, 60) == Reduction(15, 100)


def test_a_model_is_priced_by_its_name_with_or_without_provider() -> None:
    prices = {**DEFAULT_PRICES, "llama3": (0.0, 0.0)}

    assert price_of("openai:gpt-4o-mini", prices) == DEFAULT_PRICES["gpt-4o-mini"]
    assert price_of("openai-chat:gpt-4o", prices) == DEFAULT_PRICES["gpt-4o"]
    assert price_of("litellm:openai/gpt-4.1", prices) == DEFAULT_PRICES["gpt-4.1"]
    assert price_of("litellm:ollama/llama3", prices) == (0.0, 0.0)
    assert price_of("offline", prices) == (0.0, 0.0)
    assert price_of("openai-chat:stub-model", prices) is None


def test_a_tally_prices_re_runs_but_keeps_them_out_of_the_work_that_stands() -> None:
    prices = {"gpt-4o-mini": (0.15, 0.60)}
    tally = Tally()
    run = {"model": "openai:gpt-4o-mini", "duration_ms": 1500}
    tally.add({**run, "status": "succeeded", "input_tokens": 1_000_000, "output_tokens": 500_000}, prices)
    tally.add({**run, "status": "discarded", "input_tokens": 200_000, "output_tokens": 0}, prices)
    tally.add({**run, "status": "failed", "input_tokens": 100_000, "output_tokens": 50_000}, prices)
    tally.add({**run, "model": "x:unknown", "status": "succeeded", "input_tokens": 10, "output_tokens": 1}, prices)

    assert (tally.runs, tally.input_tokens, tally.output_tokens, tally.duration_ms) == (2, 1_000_010, 500_001, 3000)
    assert (tally.reruns, tally.rerun_tokens, tally.failed_runs, tally.failed_tokens) == (1, 200_000, 1, 150_000)
    assert tally.cost_usd == pytest.approx(0.15 + 0.30 + 0.03 + 0.015 + 0.03)
    assert tally.unpriced_models == {"x:unknown"}


def test_prices_from_the_environment_add_to_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSEGEN_PRICES", '{"stub-model": [1.5, 3], "gpt-4o": [2, 8]}')
    prices = Settings(_env_file=None).prices  # type: ignore[call-arg]

    assert prices["stub-model"] == (1.5, 3.0) and prices["gpt-4o"] == (2.0, 8.0)
    assert prices["gpt-4o-mini"] == DEFAULT_PRICES["gpt-4o-mini"] and prices["offline"] == (0.0, 0.0)
