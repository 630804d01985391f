"""The fan's words about a task at one of its questions (`notes:` in flows.yml, dialogs/policy.py `_note`).

Found in a chat: "I want a refund" -> "what's the email or postcode?" -> "because it arrived broken"
(complaint 0.99) started the complaint task over the refund; the fan's email then became the complaint's
details and the refund was gone. The demo's refund flow lists `notes: [complaint]`: such a message is
noted for the person the refund goes to (the ticket's reason carries it as `fan_notes`), the fan is told
so in their language, and the question stands, no attempt counted. Shipped flows and domain, hand-made
NLU readings as in test_proof_question_requests.py."""

from __future__ import annotations

import pytest

from tests.dialogs.test_proof_question_requests import READINGS, _at_proof_question, _responses

READINGS.update({
    "because it arrived broken": ("complaint", 0.99),
    "porque llegó roto": ("complaint", 0.98),
    "weil es kaputt angekommen ist": ("complaint", 0.97),
    "it arrived broken, my email is maya.lopez@example.com": ("complaint", 0.95),
    "why did it arrive broken?": ("complaint", 0.9),
})


@pytest.mark.parametrize(("language", "wish", "reason", "noted", "proof"), [
    ("en", "I want a refund", "because it arrived broken", "I've noted it", "maya.lopez@example.com"),
    ("es", "quiero un reembolso", "porque llegó roto", "Lo he anotado", "10115"),
    ("de", "ich will eine Erstattung", "weil es kaputt angekommen ist", "notiert", "10115"),
])
async def test_a_reason_at_the_refunds_proof_question_is_noted_not_a_new_task(
        language: str, wish: str, reason: str, noted: str, proof: str) -> None:
    fan = await _at_proof_question(wish, language=language)
    d = await fan.say(reason)
    assert ("flow.noted", {"flow": "refund", "slot": "order_proof", "intent": "complaint"}) in d.events
    assert "flow.interrupted" not in [e for e, _ in d.events]
    assert _responses(d) == ["utter_ask_order_proof"] and noted in d.replies[0].text  # one message: noted + asked
    assert fan.flows == ["refund"] and fan.failures == [] and fan.state["stack"][0]["attempts"] == 0
    d = await fan.say(proof)
    assert d.escalate is not None and d.escalate.queue == "refunds"
    assert d.escalate.reason["fan_notes"] == [reason]


async def test_a_reason_with_the_answer_in_it_is_noted_and_answers() -> None:
    fan = await _at_proof_question("I want a refund")
    d = await fan.say("it arrived broken, my email is maya.lopez@example.com")
    assert d.escalate is not None and d.escalate.queue == "refunds"
    assert d.escalate.reason["fan_notes"] == ["it arrived broken, my email is maya.lopez@example.com"]
    assert d.replies[0].text.startswith("Sorry to hear that.")


async def test_notes_belong_to_the_flow_that_lists_them() -> None:
    # the order task lists no notes: a complaint there still interrupts it, as before
    fan = await _at_proof_question("where is my order")
    d = await fan.say("because it arrived broken")
    assert ("flow.interrupted", {"flow": "order_status", "by": "complaint"}) in d.events
    # and a question is a question, even one the NLU reads as the noted intent
    fan = await _at_proof_question("I want a refund")
    d = await fan.say("why did it arrive broken?")
    assert "flow.noted" not in [e for e, _ in d.events]
