"""Two requests in one message while a task waits for an answer (dialogs/policy.py `_continue`):
each request is read on its own, the first is the reply to the question, the second comes after.
The shipped demo flows, domain and ownership check, with hand-made NLU results (as in
test_second_request_escalation.py) that reproduce the model's readings: the whole German message
reads as an order question, its parts as a refund and a shipping question."""

from __future__ import annotations

import json
from typing import Any

from bot.order_owner import FAILURES_SLOT
from dialogs.policy import Decision, Turn
from dialogs.repair import split_requests
from nlu.model import ParseResult
from tests.dialogs.demo import owner_checked_demo_policy

WHOLE = "ach egal, ich will eine Erstattung und wo ist meine Bestellung VT-555123"
READINGS: dict[str, tuple[str, float, dict[str, str]]] = {
    "ich will eine Erstattung": ("refund_request", 0.97, {}),
    "wo ist meine Bestellung?": ("order_status", 0.99, {}),
    "VT-777001": ("order_status", 0.6, {"order_number": "VT-777001"}),
    "VT-482913": ("order_status", 0.6, {"order_number": "VT-482913"}),
    WHOLE: ("order_status", 0.62, {"order_number": "VT-555123"}),  # the message read whole: neither request
    "ach egal, ich will eine Erstattung": ("refund_request", 0.9, {}),
    "wo ist meine Bestellung VT-555123": ("order_status", 0.98, {"order_number": "VT-555123"}),
}


def _parse(text: str) -> ParseResult:
    intent, conf, ents = READINGS.get(text, ("inform", 0.9, {}))
    entities = [{"entity": k, "value": v} for k, v in ents.items()]
    return ParseResult(text, intent, conf, False, [(intent, conf)], entities, "de", "minilm", "test")


class Fan:
    """One German conversation through the demo policy with the email-or-postcode ownership check."""

    def __init__(self) -> None:
        self.policy = owner_checked_demo_policy()
        self.state: dict[str, Any] = {}

    async def say(self, text: str) -> Decision:
        p = _parse(text)
        parts = split_requests(text)  # the NLU's two requests: the halves at this split, each read on its own
        p.requests = [_parse(t) for t in parts] if len(parts) == 2 else []
        d = await self.policy.decide(p, self.state, Turn(1, text, "Jonas", "de"))
        self.state = json.loads(json.dumps(d.state))
        return d


def _events(d: Decision) -> list[str]:
    return [e for e, _ in d.events]


async def _at_the_refunds_proof_question() -> Fan:
    fan = Fan()
    await fan.say("ich will eine Erstattung")
    d = await fan.say("VT-777001")
    assert [r.response for r in d.replies] == ["utter_ask_order_proof"]
    return fan


async def test_never_mind_and_the_same_task_at_its_question_goes_on_with_the_second_request_after() -> None:
    fan = await _at_the_refunds_proof_question()
    d = await fan.say(WHOLE)
    events = _events(d)
    assert "flow.restated" in events and "nlu.two_requests" in events
    assert "flow.switched" not in events and "flow.cancelled" not in events
    assert d.replies[0].response == "utter_ask_order_proof"  # the question stands: not a failed proof
    top = fan.state["stack"][0]
    assert top["flow"] == "refund" and top["waiting"] and top["attempts"] == 0
    assert fan.state["slots"]["order_number"] == "VT-777001"  # what the fan said is kept
    assert not fan.state["slots"].get(FAILURES_SLOT)  # no failed proof counted
    # the second request (an order question, which needs its own proof) waits its turn behind the refund
    assert fan.state["queued"]["intent"] == "order_status"
    d = await fan.say("jonas.berg@example.org")
    assert d.escalate is not None and d.escalate.queue == "refunds"
    assert [o["flow"] for o in d.escalate.reason["also_asked"]] == ["order_status"]


async def test_never_mind_and_another_task_switches_to_the_first_request() -> None:
    fan = Fan()
    await fan.say("wo ist meine Bestellung?")
    await fan.say("VT-482913")
    d = await fan.say(WHOLE)
    assert ("flow.switched", {"from": "order_status", "to": "refund"}) in d.events
    # the refund takes the order number the fan gave the order question (dialogs/policy.py `_reuse`)
    assert [r.response for r in d.replies][:2] == ["utter_reuse_order_number", "utter_ask_order_proof"]
    assert [f["flow"] for f in fan.state["stack"]] == ["refund"]
    assert fan.state["stack"][0]["filled"]["order_number"] == "VT-482913"


async def test_one_request_while_a_task_waits_is_not_split() -> None:
    fan = await _at_the_refunds_proof_question()
    d = await fan.say("ach egal, ich will eine Erstattung")
    assert "nlu.two_requests" not in _events(d) and "flow.restated" in _events(d)
    assert [r.response for r in d.replies] == ["utter_ask_order_proof"]


async def test_taking_the_task_back_for_another_is_not_restating_it() -> None:
    # "forget the refund, where is my order?": the dropped task's words pull the reading to it (refund 0.75),
    # the rest of the reading names the task asked for (dialogs/policy.py `_switch_target`)
    fan = await _at_the_refunds_proof_question()
    text = "vergiss die Erstattung, wo ist meine Bestellung VT-482913?"
    parse = ParseResult(text, "refund_request", 0.75, False, [("refund_request", 0.75), ("order_status", 0.25)],
                        [{"entity": "order_number", "value": "VT-482913"}], "de", "minilm", "test")
    d = await fan.policy.decide(parse, fan.state, Turn(1, text, "Jonas", "de"))
    assert "flow.restated" not in _events(d)
    assert ("flow.switched", {"from": "refund", "to": "order_status"}) in d.events
