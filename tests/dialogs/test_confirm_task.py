"""A reading understood but under its flow's own bar, with no other task near: "is this about your
urgent report?" with a button, not "I didn't get that" (dialogs/policy.py `_confirm_task`). Before,
"the charger started smoking" read as crisis 0.88 (the urgent report wants 0.9) got the fallback,
while the same message read less surely (crisis 0.6, complaint 0.3) went to the complaint."""

from __future__ import annotations

import pytest

from dialogs.policy import Turn
from tests.dialogs.test_engine import Chat, demo_policy, events, names, parse


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


async def test_a_fairly_sure_crisis_is_asked_about_before_the_runner_up_complaint() -> None:
    """"mijn dochtertje heeft een oordopje ingeslikt": crisis 0.76, complaint 0.24. The complaint (and
    then a return-policy article against it) was no answer to a swallowed earbud."""
    chat = Chat(demo_policy())
    p = parse("mijn dochtertje heeft een oordopje ingeslikt", "crisis", confidence=0.76)
    p.ranking = [("crisis", 0.76), ("complaint", 0.24)]
    d = await chat.policy.decide(p, chat.state, Turn(1, p.text, "Sam"))
    assert names(d) == ["utter_confirm_task"]


async def test_a_torn_crisis_reading_still_goes_to_the_runner_up() -> None:
    chat = Chat(demo_policy())
    p = parse("a driver threw my parcel over the fence", "crisis", confidence=0.51)
    p.ranking = [("crisis", 0.51), ("complaint", 0.46)]
    d = await chat.policy.decide(p, chat.state, Turn(1, p.text, "Sam"))
    assert "utter_confirm_task" not in names(d) and ("flow.runner_up", {"intent": "complaint", "confidence": 0.46}) in d.events


async def test_a_weak_crisis_reading_is_not_asked_about() -> None:
    """"the picture from my beam projector is blurry" read crisis 0.50: no "is this about your urgent report?"."""
    d = await Chat(demo_policy()).say("the picture from my beam projector is blurry", "crisis", confidence=0.5)
    assert "utter_confirm_task" not in names(d) and not d.escalate
