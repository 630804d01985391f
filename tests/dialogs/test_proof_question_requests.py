"""A new request at the order's proof question (dialogs/policy.py `_asks_instead`): the email-or-postcode
step takes free text, so "I want a refund" used to be checked as a proof, fail, and count towards the
failed-verification limit. A message the NLU reads confidently as another task (or the same one again),
or a question, with no digit and no "@" in it, is not a proof: the other task interrupts or the question
is answered, and the proof question comes back, no attempt counted. Anything shaped like an email or a
postcode stays a proof attempt, whatever the NLU reads.

The shipped demo flows, domain and ownership check, with hand-made NLU results (as in
test_two_requests_in_a_task.py) that reproduce the model's readings."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bot.order_owner import FAILURES_SLOT
from dialogs.policy import Decision, Turn
from nlu.model import ParseResult
from tests.dialogs.demo import owner_checked_demo_policy
from tests.dialogs.test_engine import Chat, names, own_policy

READINGS: dict[str, tuple[str, float]] = {
    "where is my order": ("order_status", 0.99),
    "where is my order?": ("order_status", 0.98),
    "dónde está mi pedido": ("order_status", 0.99),
    "wo ist meine Bestellung": ("order_status", 0.99),
    "I want a refund": ("refund_request", 1.0),
    "quiero un reembolso": ("refund_request", 0.97),
    "ich will eine Erstattung": ("refund_request", 0.96),
    "I'd like to talk to a person": ("human_handoff", 0.93),
    "how long does shipping take?": ("faq", 0.9),
    "I have a complaint": ("complaint", 0.97),
    # shaped like a proof: whatever the NLU reads, they are checked (and fail: not this order's)
    "jonas@example": ("refund_request", 0.9),
    "1012 AB": ("refund_request", 0.9),
    "my email is x@y.z": ("refund_request", 0.9),
    "I don't know it": ("refund_request", 0.8),
}


def _parse(text: str, language: str) -> ParseResult:
    intent, conf = READINGS.get(text, ("inform", 0.6))
    found = re.search(r"VT-\d{6}", text)
    number = found.group(0) if found else None
    entities = [{"entity": "order_number", "value": number}] if number else []
    if number:
        intent, conf = "order_status", 0.6
    return ParseResult(text, intent, conf, False, [(intent, conf)], entities, language, "minilm", "test")


class Fan:
    """One conversation through the demo policy with the email-or-postcode ownership check on."""

    def __init__(self, language: str = "en") -> None:
        self.policy = owner_checked_demo_policy()
        self.language = language
        self.state: dict[str, Any] = {}

    async def say(self, text: str) -> Decision:
        d = await self.policy.decide(_parse(text, self.language), self.state, Turn(1, text, "Sam", self.language))
        self.state = json.loads(json.dumps(d.state))
        return d

    @property
    def failures(self) -> list[str]:
        return list(self.state["slots"].get(FAILURES_SLOT) or [])

    @property
    def flows(self) -> list[str]:
        return [f["flow"] for f in self.state.get("stack", [])]


def _responses(d: Decision) -> list[str | None]:
    return [r.response for r in d.replies]


async def _at_proof_question(first: str, number: str = "VT-482913", language: str = "en") -> Fan:
    fan = Fan(language)
    await fan.say(first)
    d = await fan.say(number)
    assert _responses(d) == ["utter_ask_order_proof"]
    return fan


@pytest.mark.parametrize(("language", "first", "wish"), [
    ("en", "where is my order", "I want a refund"),
    ("es", "dónde está mi pedido", "quiero un reembolso"),
    ("de", "wo ist meine Bestellung", "ich will eine Erstattung"),
])
async def test_another_task_at_the_order_questions_proof_interrupts_it(language: str, first: str,
                                                                       wish: str) -> None:
    fan = await _at_proof_question(first, language=language)
    d = await fan.say(wish)
    assert ("flow.interrupted", {"flow": "order_status", "by": "refund"}) in d.events
    # the refund runs now, on the order the fan gave a moment ago (said so), and asks for its proof
    assert _responses(d) == ["utter_reuse_order_number", "utter_ask_order_proof"]
    assert "utter_order_not_matched" not in _responses(d)
    assert fan.failures == []  # no failed proof counted
    assert fan.flows == ["order_status", "refund"]
    assert fan.state["stack"][0]["attempts"] == 0 and fan.state["stack"][0]["waiting"]


async def test_an_order_question_at_the_refunds_proof_comes_back_to_the_refunds_own_order() -> None:
    fan = await _at_proof_question("I want a refund", "VT-777001")
    d = await fan.say("where is my order?")
    assert ("flow.interrupted", {"flow": "refund", "by": "order_status"}) in d.events
    assert _responses(d) == ["utter_reuse_order_number", "utter_ask_order_proof"]  # VT-777001, said so
    d = await fan.say("sorry, it's VT-100200")  # the fan meant another order
    assert _responses(d) == ["utter_ask_order_proof"] and fan.failures == []
    d = await fan.say("alex.kim@example.com")  # the order question's own proof
    assert _responses(d) == ["utter_order_status", "utter_ask_order_proof"]
    assert d.replies[-1].text.startswith("Back to your refund:")
    assert fan.failures == [] and fan.flows == ["refund"]
    # the refund goes on with its own order: its proof is checked against VT-777001, not the other one
    d = await fan.say("jonas.berg@example.org")
    assert d.escalate is not None and d.escalate.queue == "refunds"
    assert d.escalate.reason["order_number"] == "VT-777001"


async def test_asking_for_a_person_at_the_proof_question_is_no_failed_proof() -> None:
    fan = await _at_proof_question("where is my order")
    d = await fan.say("I'd like to talk to a person")
    assert d.escalate is not None and d.escalate.queue == "general"
    assert fan.failures == []


async def test_a_question_at_the_proof_question_is_answered_and_the_proof_asked_again() -> None:
    fan = await _at_proof_question("where is my order")
    d = await fan.say("how long does shipping take?")
    assert _responses(d) == ["utter_faq_unsure", "utter_ask_order_proof"]  # no knowledge base in this test
    assert d.replies[-1].text.startswith("Back to your order:")
    assert fan.failures == [] and fan.state["stack"][0]["attempts"] == 0
    d = await fan.say("10115")  # the proof still works afterwards
    assert _responses(d)[0] == "utter_order_status"


async def test_the_same_task_again_at_its_proof_question_restates_it() -> None:
    fan = await _at_proof_question("I want a refund")
    d = await fan.say("I want a refund")
    assert ("flow.restated", {"flow": "refund", "slot": "order_proof"}) in d.events
    assert _responses(d) == ["utter_ask_order_proof"]
    assert fan.failures == [] and fan.state["stack"][0]["attempts"] == 0


@pytest.mark.parametrize("proof", ["jonas@example", "1012 AB", "my email is x@y.z"])
async def test_what_looks_like_a_proof_is_checked_whatever_it_reads_as(proof: str) -> None:
    fan = await _at_proof_question("where is my order")
    d = await fan.say(proof)
    assert "flow.interrupted" not in [e for e, _ in d.events]
    assert "utter_order_not_matched" in _responses(d)
    assert len(fan.failures) == 1


async def test_not_knowing_the_proof_is_handled_as_before() -> None:
    fan = await _at_proof_question("where is my order")
    d = await fan.say("I don't know it")
    assert "flow.interrupted" not in [e for e, _ in d.events]
    assert _responses(d) == ["utter_ask_order_proof"]
    assert fan.state["stack"][0]["attempts"] == 1 and fan.failures == []


async def test_a_free_text_answer_that_can_be_the_request_itself_still_takes_it() -> None:
    # the complaint's details (`prefill`): "I want a refund" is what the fan complains about
    fan = Fan()
    d = await fan.say("I have a complaint")
    assert _responses(d) == ["utter_ask_complaint_details"]
    d = await fan.say("I want a refund")
    assert d.escalate is not None and d.escalate.queue == "complaints"
    assert d.escalate.reason["complaint_details"] == "I want a refund"



async def test_a_question_nothing_answers_is_the_answer_to_a_free_text_step(tmp_path: Path) -> None:
    """Outside the proof: "could you make it in blue?" at "add a note" is the note when no article
    answers it (no knowledge base here), not a wrong answer."""
    chat = Chat(own_policy(tmp_path))
    await chat.say("I want to add a note", "noting")
    d = await chat.say("could you make it in blue?", "inform", confidence=0.6)
    assert names(d) == ["utter_noted"] and d.replies[0].text.startswith("Noted: could you make it in blue?.")


async def test_another_order_number_alone_at_the_proof_question_is_that_order() -> None:
    fan = await _at_proof_question("where is my order")
    d = await fan.say("VT-100200")  # no "sorry, it's": still never an email or a postcode
    assert ("flow.corrected", {"flow": "order_status", "slot": "order_number"}) in [(e, v) for e, v in d.events]
    assert _responses(d) == ["utter_ask_order_proof"] and fan.failures == []
    d = await fan.say("alex.kim@example.com")  # VT-100200's own email
    assert _responses(d)[0] == "utter_order_status" and "Pulse 3" in d.replies[0].text


async def test_the_same_order_number_again_at_the_proof_question_asks_again() -> None:
    fan = await _at_proof_question("where is my order")
    d = await fan.say("VT-482913")
    assert "flow.repeated" in [e for e, _ in d.events]
    assert _responses(d) == ["utter_ask_order_proof"] and fan.failures == []
    assert fan.state["stack"][0]["attempts"] == 0
