"""A sure safety report interrupts whatever question a task waits on (dialogs/policy.py URGENT_INTENT).
Found in a chat: at the complaint's "tell me more" (a free-text step that takes the message itself),
"my charger started smoking and melted" (crisis 0.999) became the complaint's details and a normal
complaints ticket, not the urgent report."""

from __future__ import annotations

import pytest

from tests.dialogs.test_engine import Chat, demo_policy, names


@pytest.mark.parametrize("opening, intent", [("I want to make a complaint", "complaint"),
                                             ("where is my order", "order_status"),
                                             ("I want a refund", "refund_request")])
async def test_a_crisis_at_any_question_is_the_urgent_report(opening: str, intent: str) -> None:
    chat = Chat(demo_policy())
    await chat.say(opening, intent)
    assert chat.stack  # a question waits
    d = await chat.say("my charger started smoking and melted", "crisis", confidence=0.99)
    assert names(d)[0] == "utter_crisis"
    assert d.escalate is not None and d.escalate.queue == "crisis" and d.escalate.priority == "urgent"


async def test_an_unsure_crisis_reading_at_the_details_question_is_the_details() -> None:
    """Under the urgent report's own bar the message stays the answer (a complaint a person reads)."""
    chat = Chat(demo_policy())
    await chat.say("I want to make a complaint", "complaint")
    d = await chat.say("the case got really hot once and the left bud crackles since", "crisis", confidence=0.6)
    assert names(d) == ["utter_complaint_escalated"] and d.escalate is not None and d.escalate.queue == "complaints"
