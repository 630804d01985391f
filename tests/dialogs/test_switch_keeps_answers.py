"""A switch keeps what the fan already said (dialogs/policy.py `_reuse`): "where is my order?" -
"VT-482913" - "forget it, I want a refund instead" starts the refund with order VT-482913, says so,
and still asks for the email or postcode (the ownership check of bot/order_owner.py is untouched).
The shipped demo flows, domain, translations and ownership check with hand-made NLU results (as in
test_two_requests_in_a_task.py); the engine rule itself on a small brand of its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.order_owner import FAILURES_SLOT
from dialogs.actions import ActionRegistry
from dialogs.domain import Domain
from dialogs.flows import load_flows
from dialogs.policy import Decision, DialogPolicy, Turn
from nlu.model import ParseResult
from tests.dialogs.demo import owner_checked_demo_policy


class Fan:
    """One conversation through the demo policy with the email-or-postcode ownership check."""

    def __init__(self, language: str = "en") -> None:
        self.policy = owner_checked_demo_policy()
        self.language = language
        self.state: dict[str, Any] = {}

    async def say(self, text: str, intent: str = "inform", confidence: float = 0.95,
                  order_number: str | None = None) -> Decision:
        ents = [{"entity": "order_number", "value": order_number}] if order_number else []
        parse = ParseResult(text, intent, confidence, False, [(intent, confidence)], ents, self.language, "e5", "test")
        d = await self.policy.decide(parse, self.state, Turn(1, text, "Ana", self.language))
        self.state = json.loads(json.dumps(d.state))  # through JSON, as through the conversation store
        return d

    @property
    def flows(self) -> list[str]:
        return [f["flow"] for f in self.state.get("stack", [])]

    @property
    def slots(self) -> dict[str, Any]:
        return dict(self.state.get("slots", {}))


def names(d: Decision) -> list[str | None]:
    return [r.response for r in d.replies]


async def at_the_orders_proof_question(language: str = "en") -> Fan:
    fan = Fan(language)
    await fan.say("where is my order?", "order_status", 1.0)
    d = await fan.say("VT-482913", "order_status", 0.98, order_number="VT-482913")
    assert names(d) == ["utter_ask_order_proof"]
    return fan


async def test_a_switch_to_a_refund_takes_the_order_number_and_says_which_order_it_is() -> None:
    fan = await at_the_orders_proof_question()
    d = await fan.say("forget it, I want a refund instead", "refund_request", 0.99)
    assert ("flow.switched", {"from": "order_status", "to": "refund"}) in d.events
    assert ("flow.slot_reused", {"flow": "refund", "slot": "order_number"}) in d.events
    assert names(d) == ["utter_reuse_order_number", "utter_ask_order_proof"]  # not the order number again
    assert d.replies[0].text == "For your refund I'll use order VT-482913, the one you gave me."
    assert fan.flows == ["refund"] and fan.slots["order_number"] == "VT-482913"
    # nothing about the order before the proof: no product, no status
    assert not any(w in r.text for r in d.replies for w in ("Buds Pro", "shipped"))
    d = await fan.say("maya.lopez@example.com", "inform", 0.6)
    assert d.escalate is not None and d.escalate.queue == "refunds"
    assert d.escalate.reason["order_number"] == "VT-482913" and d.escalate.reason["flow"] == "refund"


async def test_in_spanish_the_refund_names_the_order_in_spanish() -> None:
    fan = await at_the_orders_proof_question("es")
    d = await fan.say("olvídalo, quiero un reembolso", "refund_request", 0.999)
    assert names(d) == ["utter_reuse_order_number", "utter_ask_order_proof"]
    assert d.replies[0].text == "Para tu reembolso usaré el pedido VT-482913, el que me diste."
    assert "código postal" in d.replies[1].text


async def test_a_wrong_proof_after_the_switch_still_fails_and_shows_nothing() -> None:
    fan = await at_the_orders_proof_question()
    await fan.say("forget it, I want a refund instead", "refund_request", 0.99)
    d = await fan.say("alex.kim@example.com", "inform", 0.6)  # another fan's email
    assert names(d) == ["utter_order_not_matched"] and d.escalate is None
    assert len(fan.slots[FAILURES_SLOT]) == 1 and "product" not in fan.slots


async def test_a_number_in_the_switching_message_wins_over_the_one_before() -> None:
    fan = await at_the_orders_proof_question()
    d = await fan.say("forget it, I want a refund for VT-100200 instead", "refund_request", 0.99,
                      order_number="VT-100200")
    assert names(d) == ["utter_ask_order_proof"]
    assert fan.slots["order_number"] == "VT-100200"
    assert "carried" not in fan.state["stack"][-1]  # the other number is not kept for a later question


async def test_the_fan_can_correct_the_order_the_new_task_took() -> None:
    fan = await at_the_orders_proof_question()
    await fan.say("forget it, I want a refund instead", "refund_request", 0.99)
    d = await fan.say("sorry, it's VT-100200", "order_status", 0.9, order_number="VT-100200")
    assert ("flow.corrected", {"flow": "refund", "slot": "order_number"}) in d.events
    assert names(d) == ["utter_ask_order_proof"] and fan.slots["order_number"] == "VT-100200"
    assert FAILURES_SLOT not in fan.slots or not fan.slots[FAILURES_SLOT]  # the correction was no wrong proof
    d = await fan.say("SW1A 1AA", "inform", 0.6)
    assert d.escalate is not None and d.escalate.reason["order_number"] == "VT-100200"


async def test_a_switch_back_to_the_order_takes_the_refunds_number() -> None:
    fan = Fan()
    await fan.say("I want a refund", "refund_request", 0.99)
    await fan.say("VT-555123", "order_status", 0.9, order_number="VT-555123")
    d = await fan.say("actually no, where is my order instead?", "order_status", 0.97)
    assert names(d) == ["utter_reuse_order_number", "utter_ask_order_proof"]
    assert "VT-555123" in d.replies[0].text
    d = await fan.say("SW1A 1AA", "inform", 0.6)
    assert names(d) == ["utter_order_status"] and "VT-555123 (Voltora Arc)" in d.replies[0].text


async def test_an_order_proven_in_this_conversation_is_not_asked_for_again() -> None:
    """The proof is never carried itself (it is asked before each check and cleared after it); what the
    conversation proved (`order_links`) is what lets the new task skip the question."""
    fan = Fan()
    await fan.say("where is my order VT-100200?", "order_status", 0.99, order_number="VT-100200")
    d = await fan.say("alex.kim@example.com", "inform", 0.6)
    assert names(d) == ["utter_order_status"]
    d = await fan.say("I want a refund for another order", "refund_request", 0.99)  # not the one just looked up
    assert names(d) == ["utter_ask_refund_order_number"]
    await fan.say("VT-999999", "order_status", 0.9, order_number="VT-999999")  # an order that is not theirs
    d = await fan.say("never mind, where is my order VT-555123 instead?", "order_status", 0.97,
                      order_number="VT-555123")
    assert names(d) == ["utter_order_status"]  # same email as the proven VT-100200: no question


async def test_a_cancel_forgets_the_task_and_its_answers() -> None:
    """"never mind" alone drops the task: a task asked for later starts from the beginning."""
    fan = await at_the_orders_proof_question()
    d = await fan.say("never mind", "deny", 0.9)
    assert names(d) == ["utter_form_cancelled"]
    d = await fan.say("I want a refund", "refund_request", 0.99)
    assert names(d) == ["utter_ask_refund_order_number"]


# -- the rule on a brand of its own ------------------------------------------------------------------------

DOMAIN = """\
version: "3.1"
responses:
  utter_ask_city: [{text: "Which city?"}]
  utter_ask_date: [{text: "Which date?"}]
  utter_ask_code: [{text: "Your booking code?"}]
  utter_ask_seats: [{text: "How many seats?"}]
  utter_reuse_city: [{text: "Your {flow} in {city}, then."}]
  utter_booked: [{text: "Booked {seats} in {city}."}]
  utter_found: [{text: "Trip {code} to {city}."}]
"""

FLOWS = """\
version: "1"
slots:
  city: {type: text}
  date: {type: text}
  code: {type: text}
  seats: {type: text}
flows:
  trip:
    name: trip
    description: Plan a trip.
    nlu_trigger: [{intent: trip}]
    steps:
      - collect: city
      - collect: code
      - collect: date
      - action: utter_found
  tickets:
    name: ticket booking
    description: Book tickets.
    nlu_trigger: [{intent: tickets}]
    steps:
      - collect: seats
      - collect: city
      - collect: code
        ask_before_filling: true
      - action: utter_booked
"""


def own_policy(tmp_path: Path) -> DialogPolicy:
    (tmp_path / "domain.yml").write_text(DOMAIN, encoding="utf-8")
    (tmp_path / "flows.yml").write_text(FLOWS, encoding="utf-8")
    domain = Domain.load(tmp_path / "domain.yml")
    flows = load_flows([tmp_path / "flows.yml"], responses=set(domain.responses), actions=set())
    return DialogPolicy(domain, None, None, flows=flows, actions=ActionRegistry())


async def test_a_later_question_of_the_new_task_takes_the_answer_turns_later(tmp_path: Path) -> None:
    """The kept answers travel with the new task (in its frame, through the store): the city is asked
    only after the seats, and then taken; a question asked each time (`ask_before_filling`) is asked."""
    policy = own_policy(tmp_path)
    state: dict[str, Any] = {}

    async def say(text: str, intent: str) -> Decision:
        nonlocal state
        parse = ParseResult(text, intent, 0.95, False, [(intent, 0.95)], [], "en", "e5", "test")
        d = await policy.decide(parse, state, Turn(1, text, "Ana", "en"))
        state = json.loads(json.dumps(d.state))
        return d

    await say("plan a trip", "trip")
    await say("Lisbon", "inform")
    d = await say("ABC123", "inform")
    assert [r.text for r in d.replies] == ["Which date?"]
    d = await say("forget the trip, book tickets instead", "tickets")
    assert [r.text for r in d.replies] == ["How many seats?"]
    assert state["stack"][-1]["carried"] == {"city": "Lisbon", "code": "ABC123"}
    d = await say("two", "inform")
    assert [r.text for r in d.replies] == ["Your ticket booking in Lisbon, then.", "Your booking code?"]
    d = await say("XYZ999", "inform")
    assert [r.text for r in d.replies] == ["Booked two in Lisbon."]
