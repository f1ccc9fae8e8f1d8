"""What an agent run was sent, by part: the parts add up to what the offline model counts."""

from __future__ import annotations

from typing import Annotated, Any

from agents import Agent, Runner, function_tool
from pydantic import BaseModel

from coursegen.shared import tokens
from coursegen.shared.accounting import RunTokens, handoff_chain_terms, handoff_chain_tokens
from coursegen.shared.models import OfflineModel, PolicyView, ToolCall
from coursegen.shared.sent import call_tokens, output_schema_of, tool_definition
from coursegen.shared.stage import SpendTally

INSTRUCTIONS = "Look the word up, then answer with its length."


class Answer(BaseModel):
    length: int


@function_tool
def look_up(word: Annotated[str, "The word"]) -> str:
    """Look a word up."""
    return '{"word":"' + word + '","meaning":"a small example of a tool result"}'


def policy(view: PolicyView) -> list[ToolCall] | Answer:
    if not view.called("look_up"):
        return [ToolCall("look_up", {"word": "token"})]
    return Answer(length=len(view.result("look_up")["word"]))


async def test_a_two_turn_run_is_split_into_first_sends_and_repeats() -> None:
    agent = Agent(name="t", instructions=INSTRUCTIONS, tools=[look_up], output_type=Answer, model=OfflineModel(policy))
    spent = SpendTally()

    result = await Runner.run(agent, "word=token", hooks=spent)

    assert result.final_output == Answer(length=5)
    sent = spent.sent
    # Everything the model was sent over both turns, as the offline model counted it, and nothing else.
    assert sent.total == result.context_wrapper.usage.input_tokens
    assert sent.instructions == tokens.count_text(INSTRUCTIONS)
    first = call_tokens(INSTRUCTIONS, [look_up], output_schema_of(Answer), "word=token")
    assert sent.schemas == first.schemas > tokens.count(tool_definition(look_up)["description"])
    assert sent.tool_results == tokens.count(result.to_input_list()[2])
    # The second turn re-sent the whole first call: instructions, schemas and the prompt.
    assert sent.repeats == first.total
    assert sent.other == first.total - sent.instructions - sent.schemas + tokens.count(result.to_input_list()[1])


def test_the_chain_terms_add_up_to_the_chain() -> None:
    runs = [RunTokens("s", 100, 2, 300), RunTokens("s", 50, 3, 200), RunTokens("s", 10, 1, 0)]
    terms: list[Any] = handoff_chain_terms(runs)
    assert terms == [100, 50 + 3 * 300, 10 + 500] and sum(terms) == handoff_chain_tokens(runs)
