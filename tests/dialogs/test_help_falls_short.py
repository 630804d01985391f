"""When a question of a task is not simply answered (dialogs/policy.py): "why do you need that?" gets
`utter_explain_<slot>` and the question again; "I don't have my order number" gets `utter_lost_<slot>`.
The why spends no attempt; having no number does, like a wrong answer (said twice, the task gives up).
(An article that did not help: tests/conversations/ml_when_help_falls_short.yml, with the real knowledge base.)"""

from __future__ import annotations

from tests.dialogs.test_engine import Chat, demo_policy, events, names


async def test_why_the_order_number_is_asked_then_the_question_again() -> None:
    """(The email-or-postcode question, asked when orders.verify is on: the conversation tests.)"""
    chat = Chat(demo_policy())
    await chat.say("where is my order", "order_status")
    d = await chat.say("why do you need that?", "faq", confidence=0.6)
    assert names(d) == ["utter_ask_order_number"] and ("flow.explained", {"flow": "order_status",
                                                                          "slot": "order_number"}) in d.events
    assert d.replies[0].text.startswith("With the order number I can find the right order. Sure! What's your")
    assert chat.stack[-1].get("attempts", 0) == 0
    d = await chat.say("VT-482913", "inform", {"order_number": "VT-482913"})
    assert names(d) == ["utter_order_status"]


async def test_no_order_number_at_hand_gets_where_to_find_it_then_gives_up_when_said_again() -> None:
    chat = Chat(demo_policy())
    await chat.say("where is my order", "order_status")
    d = await chat.say("I don't have my order number", "order_status")
    assert names(d) == ["utter_lost_order_number"] and [b.payload for b in d.replies[0].buttons] == ["/human_handoff"]
    assert "flow.restated" not in events(d) and chat.stack[-1]["attempts"] == 1
    d = await chat.say("i can't find it", "inform")
    assert "flow.gave_up" in events(d) and chat.stack == []


async def test_a_follow_up_about_the_order_just_looked_up_gets_its_status_again() -> None:
    """'when will it arrive?' right after the status: that order again, not the shipping-times article."""
    chat = Chat(demo_policy())
    d = await chat.say("where is my order VT-482913", "order_status", {"order_number": "VT-482913"})
    assert names(d) == ["utter_order_status"]
    d = await chat.say("when will it arrive?", "order_status", confidence=0.95)
    assert names(d) == ["utter_order_status"] and "flow.followed_up" in events(d) and "VT-482913" in d.replies[0].text
    # another order is not this one; nor is a message that brings its own number
    d = await chat.say("and my other order?", "order_status", confidence=0.95)
    assert names(d) == ["utter_ask_order_number"] and "flow.followed_up" not in events(d)


async def test_no_follow_up_after_a_hand_over_or_a_different_request() -> None:
    chat = Chat(demo_policy())
    await chat.say("where is my order VT-482913", "order_status", {"order_number": "VT-482913"})
    d = await chat.say("how do returns work?", "faq", confidence=0.95)
    assert "flow.followed_up" not in events(d)
    d = await chat.say("where is VT-100200?", "order_status", {"order_number": "VT-100200"})
    assert "flow.followed_up" not in events(d) and "VT-100200" in d.replies[0].text
    chat = Chat(demo_policy())
    d = await chat.say("I want a refund for VT-482913", "refund_request", {"order_number": "VT-482913"})
    assert d.escalate is not None
    d = await chat.say("when will I get it?", "refund_request", confidence=0.95)
    assert "flow.followed_up" not in events(d)


async def test_a_new_task_right_after_a_look_up_takes_its_order_and_says_so() -> None:
    """'ok, I want to return it' after the order's status: the refund for that order (`utter_reuse_order_number`,
    so a fan who meant another can correct it); "a refund for my other order" asks for the number."""
    chat = Chat(demo_policy())
    await chat.say("where is my order VT-482913", "order_status", {"order_number": "VT-482913"})
    d = await chat.say("ok I want to return it and get a refund", "refund_request")
    assert names(d)[:2] == ["utter_reuse_order_number", "utter_refund_escalated"] and "VT-482913" in d.replies[0].text
    chat = Chat(demo_policy())
    await chat.say("where is my order VT-482913", "order_status", {"order_number": "VT-482913"})
    d = await chat.say("I want a refund for my other order", "refund_request")
    assert names(d) == ["utter_ask_refund_order_number"]


async def test_asking_after_the_refund_is_the_refund_task_and_a_problem_with_the_order_a_complaint() -> None:
    """Read as the order task, but the order's status would help nobody: 'where is my refund?' goes to
    the refund (a person checks it), 'my order arrived damaged' to the complaint; "no refund, just
    where is my parcel" stays the order."""
    d = await Chat(demo_policy()).say("¿dónde está mi reembolso?", "order_status", confidence=0.95)
    assert names(d) == ["utter_ask_refund_order_number"] and "nlu.refund_not_status" in events(d)
    d = await Chat(demo_policy()).say("my order arrived damaged", "order_status", confidence=0.7)
    assert names(d) == ["utter_ask_complaint_details"] and "nlu.problem_not_status" in events(d)
    d = await Chat(demo_policy()).say("मुझे refund नहीं चाहिए, बस बता दीजिए मेरा पार्सल कहाँ है", "order_status")
    assert names(d) == ["utter_ask_order_number"]


async def test_help_at_a_question_explains_it_and_asks_again() -> None:
    chat = Chat(demo_policy())
    await chat.say("where is my order", "order_status")
    d = await chat.say("help", "greet", confidence=0.5)
    assert names(d) == ["utter_ask_order_number"] and "flow.explained" in events(d)
    assert chat.stack[-1].get("attempts", 0) == 0
