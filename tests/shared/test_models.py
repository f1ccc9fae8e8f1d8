"""A model setting becomes the SDK model it names, with retries; a bad one says what is expected."""

from __future__ import annotations

import pytest
from agents import OpenAIChatCompletionsModel, OpenAIResponsesModel

from coursegen.planner.app import spec
from coursegen.shared.errors import PermanentError
from coursegen.shared.models import OfflineModel, model_problems, resolve_model
from coursegen.shared.settings import Settings
from coursegen.shared.subjects import STAGES


def client_url(model: object) -> str:
    return str(model._client.base_url)  # type: ignore[attr-defined]


def test_offline_is_the_offline_model() -> None:
    choice = resolve_model(" offline ", spec.policy)
    assert isinstance(choice.model, OfflineModel) and choice.name == "offline"


@pytest.mark.parametrize("base_url", [None, "", "  "])
def test_openai_without_a_base_url_is_openai_responses(monkeypatch: pytest.MonkeyPatch, base_url: str | None) -> None:
    # Compose passes ${OPENAI_BASE_URL:-}: set, but empty.
    if base_url is None:
        monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    else:
        monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    choice = resolve_model("openai:gpt-4.1-mini", spec.policy, retries=3)
    assert isinstance(choice.model, OpenAIResponsesModel)
    assert client_url(choice.model) == "https://api.openai.com/v1/"
    assert choice.settings.retry is not None and choice.settings.retry.max_retries == 3


def test_a_base_url_means_an_openai_compatible_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    choice = resolve_model("openai:llama3.2", spec.policy)
    assert isinstance(choice.model, OpenAIChatCompletionsModel)
    assert client_url(choice.model) == "http://127.0.0.1:11434/v1/"


@pytest.mark.parametrize("setting", ["gpt-4o", "openai:", "mistral:large"])
def test_a_model_setting_that_names_nothing_known_is_refused(setting: str) -> None:
    with pytest.raises(PermanentError, match="model"):
        resolve_model(setting, spec.policy)


@pytest.fixture
def no_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.mark.usefixtures("no_openai")
def test_model_settings_are_checked_before_anything_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None, model="offline", model_content="openai:gpt-4.1", model_quality="gpt-4o")  # type: ignore[call-arg]
    assert model_problems(settings, STAGES) == [
        "COURSEGEN_MODEL_CONTENT: openai:gpt-4.1 needs OPENAI_API_KEY "
        "(or OPENAI_BASE_URL, for an OpenAI-compatible server)",
        "COURSEGEN_MODEL_QUALITY: 'gpt-4o' is not a model: expected offline, openai:<model>, "
        "openai-chat:<model> or litellm:<provider>/<model>",
    ]
    assert model_problems(settings, ["planner", "researcher"]) == []

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert len(model_problems(settings, STAGES)) == 1


@pytest.mark.usefixtures("no_openai")
def test_a_shared_model_setting_is_named_once(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None, model="openai-chat:llama3.2")  # type: ignore[call-arg]
    [problem] = model_problems(settings, STAGES)
    assert problem.startswith("COURSEGEN_MODEL: openai-chat:llama3.2 needs OPENAI_API_KEY")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    assert model_problems(settings, STAGES) == []
