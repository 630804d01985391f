"""A reply of digits only to a task's question is an attempt at the answer, however the NLU reads it
("555" read as a greeting at 0.78 once the training data had many short greetings)."""

from __future__ import annotations

import pytest

from tests.dialogs.test_engine import Chat, demo_policy, names


@pytest.mark.parametrize("text", ["555", "123 456", "#42"])
async def test_digits_at_the_order_number_question_are_a_wrong_number(text: str) -> None:
    chat = Chat(demo_policy())
    await chat.say("I want a refund", "refund_request")
    d = await chat.say(text, "greet", confidence=0.78)
    assert names(d) == ["utter_invalid_order_number"]
    assert chat.stack[-1]["flow"] == "refund" and chat.stack[-1]["attempts"] == 1


async def test_a_greeting_with_letters_is_still_small_talk() -> None:
    chat = Chat(demo_policy())
    await chat.say("I want a refund", "refund_request")
    d = await chat.say("hi there", "greet", confidence=0.9)
    assert names(d)[0] == "utter_greet"
