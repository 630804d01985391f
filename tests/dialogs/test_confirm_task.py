"""A reading understood but under its flow's own bar, with no other task near: "is this about your
urgent report?" with a button, not "I didn't get that" (dialogs/policy.py `_confirm_task`). Before,
"the charger started smoking" read as crisis 0.88 (the urgent report wants 0.9) got the fallback,
while the same message read less surely (crisis 0.6, complaint 0.3) went to the complaint."""

from __future__ import annotations

import pytest

from tests.dialogs.test_engine import Chat, demo_policy, events, names


async def test_a_crisis_under_its_bar_is_confirmed_not_dropped() -> None:
    chat = Chat(demo_policy())
    d = await chat.say("ładowarka zaczęła dymić", "crisis", confidence=0.88)
    assert names(d) == ["utter_confirm_task"] and d.action == "confirm" and "flow.confirm" in events(d)
    assert [b.payload for b in d.replies[0].buttons] == ["/crisis"]
    assert not chat.stack and not d.escalate


@pytest.mark.parametrize("reply", ["yes", "tak", "sí", "ja bitte"])
async def test_a_typed_yes_starts_the_confirmed_task(reply: str) -> None:
    chat = Chat(demo_policy())
    await chat.say("my charger started smoking", "crisis", confidence=0.85)
    d = await chat.say(reply, "greet", confidence=0.5)
    assert names(d) == ["utter_crisis"] and d.escalate is not None and d.escalate.queue == "crisis"


async def test_the_button_starts_the_confirmed_task() -> None:
    chat = Chat(demo_policy())
    await chat.say("my charger started smoking", "crisis", confidence=0.85)
    d = await chat.say("/crisis", "crisis", confidence=1.0, encoder=None)
    assert names(d) == ["utter_crisis"]


async def test_something_else_instead_of_a_yes_is_a_new_message() -> None:
    chat = Chat(demo_policy())
    await chat.say("my charger started smoking", "crisis", confidence=0.85)
    d = await chat.say("where is my order", "order_status")
    assert names(d) == ["utter_ask_order_number"] and "offer" not in chat.state


async def test_a_fallback_is_still_a_fallback() -> None:
    d = await Chat(demo_policy()).say("blorp", "crisis", confidence=0.45, fallback=True)
    assert "utter_confirm_task" not in names(d)
