"""Two readings the classifier cannot settle, settled by the fan's words (dialogs/policy.py):

- `_restates`: "ach egal, ich will eine Erstattung" at the refund's question reads refund 0.74, order
  0.24, as "forget the refund, where is my order?" reads refund 0.72, order 0.28. The first asks for the
  refund again (a wish, no question): it goes on. The second asks for the order: the task switches.
- `_where_not_complaint`: "waar blijft verdomme mijn bestelling, ik wacht al twee weken" read complaint
  0.55, order 0.45 asks where the order is: the order task, not a complaints ticket.
"""

from __future__ import annotations

import json

from dialogs.policy import Decision, Turn
from tests.dialogs.test_engine import Chat, demo_policy, events, names, parse


async def _say(chat: Chat, text: str, ranking: list[tuple[str, float]]) -> Decision:
    p = parse(text, ranking[0][0], confidence=ranking[0][1])
    p.ranking = ranking
    d = await chat.policy.decide(p, chat.state, Turn(1, text, "Sam"))
    chat.state = json.loads(json.dumps(d.state))
    return d


async def _at_refund_question() -> Chat:
    chat = Chat(demo_policy())
    d = await chat.say("ich will eine Erstattung", "refund_request")
    assert names(d) == ["utter_ask_refund_order_number"]
    return chat


async def test_a_wish_for_the_same_task_after_a_cue_goes_on() -> None:
    chat = await _at_refund_question()
    d = await _say(chat, "ach egal, ich will eine Erstattung", [("refund_request", 0.74), ("order_status", 0.24)])
    assert names(d) == ["utter_ask_refund_order_number"] and "flow.restated" in events(d)
    assert [f["flow"] for f in chat.stack] == ["refund"]


async def test_a_question_for_another_task_after_a_cue_switches_on_the_same_readings() -> None:
    chat = await _at_refund_question()
    d = await _say(chat, "forget the refund, where is my order?", [("refund_request", 0.72), ("order_status", 0.28)])
    assert "flow.switched" in events(d) and names(d) == ["utter_ask_order_number"]
    assert [f["flow"] for f in chat.stack] == ["order_status"]


async def test_a_wish_to_know_is_no_restatement() -> None:
    chat = await _at_refund_question()
    d = await _say(chat, "never mind, I want to know where my order is",
                   [("refund_request", 0.6), ("order_status", 0.38)])
    assert "flow.restated" not in events(d) and [f["flow"] for f in chat.stack] == ["order_status"]


async def test_asking_where_the_order_is_gets_the_order_task_over_a_close_complaint() -> None:
    chat = Chat(demo_policy())
    d = await _say(chat, "waar blijft verdomme mijn bestelling, ik wacht al twee weken, dit is belachelijk",
                   [("complaint", 0.55), ("order_status", 0.45)])
    assert names(d) == ["utter_ask_order_number"] and "nlu.where_not_complaint" in events(d)
    assert d.escalate is None and [f["flow"] for f in chat.stack] == ["order_status"]


async def test_a_complaint_that_asks_nothing_stays_a_complaint() -> None:
    chat = Chat(demo_policy())
    d = await _say(chat, "my order is two weeks late and your service is a joke",
                   [("complaint", 0.55), ("order_status", 0.45)])
    assert "nlu.where_not_complaint" not in events(d) and "utter_ask_order_number" not in names(d)
    # ... and so does a sure complaint whose runner-up is no reading of its own
    d = await _say(Chat(demo_policy()), "where is my order? never buying from you again, worst shop ever",
                   [("complaint", 0.9), ("order_status", 0.1)])
    assert "nlu.where_not_complaint" not in events(d)


async def test_asking_where_the_order_is_after_a_cue_switches_on_a_weak_order_reading() -> None:
    """"забудьте про возврат, лучше скажите, где мой заказ VT-246810": refund 0.82, order 0.17 (under RUNNER_UP)."""
    chat = await _at_refund_question()
    d = await _say(chat, "забудьте про возврат, лучше скажите, где мой заказ VT-246810",
                   [("refund_request", 0.82), ("order_status", 0.17)])
    assert "flow.switched" in events(d) and d.action == "flow:order_status" and "VT-246810" in d.replies[0].text


async def test_an_upset_fan_under_the_bar_gets_the_complaint_not_a_fallback() -> None:
    chat = Chat(demo_policy())
    p = parse("أنا مستاء جداً من خدمتكم", "out_of_scope", confidence=0.51, fallback=True)
    p.ranking = [("complaint", 0.51), ("thanks", 0.2)]
    d = await chat.policy.decide(p, chat.state, Turn(1, p.text, "Sam"))
    assert names(d) == ["utter_ask_complaint_details"] and "nlu.upset_fallback" in events(d)
    # a fallback without upset words is still one
    q = parse("the thing with the stuff", "out_of_scope", confidence=0.45, fallback=True)
    q.ranking = [("complaint", 0.45), ("faq", 0.3)]
    d = await Chat(demo_policy()).policy.decide(q, {}, Turn(1, q.text, "Sam"))
    assert "nlu.upset_fallback" not in events(d) and "utter_ask_complaint_details" not in names(d)


async def test_the_same_request_again_at_the_order_number_question_is_asked_again_not_refused() -> None:
    """"Hi, I want a refund" twice: no order number, and nothing one is made of, so the question stands
    (asked again, no attempt spent) instead of "that doesn't look like an order number"."""
    chat = Chat(demo_policy())
    await chat.say("Hi, I want a refund", "refund_request")
    d = await chat.say("Hi, I want a refund", "refund_request")
    assert names(d) == ["utter_ask_refund_order_number"] and "flow.restated" in events(d)
    assert [f["flow"] for f in chat.stack] == ["refund"] and chat.stack[-1].get("attempts", 0) == 0
    # a number that is no order number is still a wrong answer, whatever the message reads as
    d = await chat.say("I want a refund for 12345", "refund_request")
    assert names(d) == ["utter_invalid_order_number"] and "flow.restated" not in events(d)
