""""ok", "ach", "hmm" read as a greeting by the classifier open no greeting (dialogs/policy.py
`ACKNOWLEDGEMENTS`): the shipped demo flows and domain with hand-made NLU results, as in test_engine.py."""

from __future__ import annotations

import pytest

from tests.dialogs.test_engine import Chat, demo_policy, names


@pytest.mark.parametrize("text", ["ok", "OK!", "ach", "ach so", "O.K.", "hmm", "окей"])
async def test_an_acknowledgement_read_as_a_greeting_asks_what_else(text: str) -> None:
    d = await Chat(demo_policy()).say(text, "greet", confidence=0.88)
    assert names(d) == ["utter_anything_else"]


@pytest.mark.parametrize("text", ["hi", "hallo", "hello there", "ok hi", "Guten Tag"])
async def test_a_real_greeting_is_greeted(text: str) -> None:
    d = await Chat(demo_policy()).say(text, "greet", confidence=0.88)
    assert names(d) == ["utter_greet"]


async def test_during_a_task_an_acknowledgement_does_not_greet_and_the_task_goes_on() -> None:
    chat = Chat(demo_policy())
    await chat.say("where is my order", "order_status")
    d = await chat.say("ach", "greet", confidence=0.88)
    assert "utter_greet" not in names(d) and [f["flow"] for f in chat.stack] == ["order_status"]
    d = await chat.say("hi again", "greet", confidence=0.88)  # a real greeting is answered, then back to the task
    assert names(d)[0] == "utter_greet" and [f["flow"] for f in chat.stack] == ["order_status"]


@pytest.mark.parametrize("text", ["Cześć!", "merhaba", "hola :)", "Moin"])
async def test_a_lone_greeting_word_read_unsure_is_still_greeted(text: str) -> None:
    """A greeting word alone is a greeting in any of the brand's languages, even when the classifier
    had too few examples of it to be sure ("Cześć!" greet 0.42: a fallback before)."""
    d = await Chat(demo_policy()).say(text, "greet", confidence=0.42, fallback=True)
    assert names(d) == ["utter_greet"]
    d = await Chat(demo_policy()).say(text, "out_of_scope", confidence=0.6)
    assert names(d) == ["utter_greet"]


async def test_an_unsure_message_that_only_starts_with_a_greeting_still_falls_back() -> None:
    d = await Chat(demo_policy()).say("hola blorp fizzle", "greet", confidence=0.42, fallback=True)
    assert "utter_greet" not in names(d)
