"""A fan's second matter when the first goes to a person: it is never silently dropped. The shipped demo
flows and domain, hand-made NLU results (as in test_engine.py); the ticket's reason carries the other
request (`also_asked`) for the operator, and the fan is told it was noted, in their language."""

from __future__ import annotations

import json
from typing import Any

from bot.orders import CsvOrderTable
from dialogs.actions import ActionRegistry
from dialogs.builtin_actions import builtin_actions
from dialogs.domain import Domain
from dialogs.flows import load_flows
from dialogs.policy import Decision, DialogPolicy, Turn
from dialogs.repair import split_requests
from dialogs.translation_files import load_translations
from nlu.model import ParseResult
from tests.conftest import REPO

PARTS = {
    "I want a refund": ("refund_request", {}),
    "quiero un reembolso": ("refund_request", {}),
    "where is my order VT-482913?": ("order_status", {"order_number": "VT-482913"}),
    "dónde está mi pedido?": ("order_status", {}),
    "can I talk to a person": ("human_handoff", {}),
    "connect me with a person": ("human_handoff", {}),
    "where is my order?": ("order_status", {}),
    "where is my order": ("order_status", {}),
}


def _parse(text: str, language: str = "en") -> ParseResult:
    intent, ents = PARTS.get(text, ("inform", {}))
    entities = [{"entity": k, "value": v} for k, v in ents.items()]
    return ParseResult(text, intent, 0.95, False, [(intent, 0.95)], entities, language, "minilm", "test")


class Fan:
    """One conversation through the demo policy; the state goes through JSON between turns."""

    def __init__(self, language: str = "en") -> None:
        domain = Domain.load(REPO / "dialogs" / "domain.yml")
        domain.use_translations(load_translations(REPO / "dialogs" / "translations"))
        orders = CsvOrderTable(REPO / "dialogs" / "demo_orders.csv")
        registry = builtin_actions(ActionRegistry(), orders=orders, phrase=domain.phrase)
        flows = load_flows([REPO / "dialogs" / "flows.yml"], responses=set(domain.responses),
                           actions=registry.names() | {"action_record_csat"})

        self.policy = DialogPolicy(domain, None, orders, flows=flows, actions=registry)
        self.language = language
        self.state: dict[str, Any] = {}

    async def say(self, text: str, first: str | None = None) -> Decision:
        """`first`: the intent the whole message reads as (a two-request message: its first part's)."""
        p = _parse(text, self.language)
        if first is not None:
            p = ParseResult(text, first, 0.9, False, [(first, 0.9)], p.entities, self.language, "minilm", "test")
        # the NLU's two requests: the halves at the dialog engine's split, each read on its own
        parts = split_requests(text)
        p.requests = [_parse(t, self.language) for t in parts] if len(parts) == 2 else []
        d = await self.policy.decide(p, self.state, Turn(1, text, "Sam", self.language))
        if d.escalate is not None:
            self.policy.render_escalated(d, Turn(1, text, "Sam", self.language), ticket=7)
        self.state = json.loads(json.dumps(d.state))
        return d


async def test_a_queued_second_request_is_noted_when_the_first_is_escalated() -> None:
    fan = Fan()
    d = await fan.say("I want a refund and where is my order?", first="refund_request")
    assert fan.state["queued"]["intent"] == "order_status"  # the order question needs questions: it waits
    d = await fan.say("VT-100200")  # the refund goes to a person (in this setup the order needs no proof)
    assert d.escalate is not None and d.escalate.queue == "refunds"
    assert d.escalate.reason["also_asked"] == [{"flow": "order_status", "intent": "order_status",
                                                "text": "where is my order?", "label": "order"}]
    texts = [r.text for r in d.replies]
    assert "ticket #7" in texts[0]
    assert texts[-1] == "I've also noted your other request (order) for the person who takes over."
    assert "nlu.second_request_noted" in [e for e, _ in d.events]
    assert "queued" not in fan.state  # not offered later behind the person's back either


async def test_the_second_request_of_a_message_that_escalates_at_once_is_noted() -> None:
    fan = Fan()
    d = await fan.say("connect me with a person and where is my order VT-482913?", first="human_handoff")
    assert d.escalate is not None and d.escalate.queue == "general"
    assert [o["flow"] for o in d.escalate.reason["also_asked"]] == ["order_status"]
    assert d.replies[-1].text == "I've also noted your other request (order) for the person who takes over."


async def test_a_task_paused_by_a_second_request_that_escalates_is_noted() -> None:
    fan = Fan()  # the order question asks for the number; the person is asked for at once, above it
    d = await fan.say("where is my order and can I talk to a person", first="order_status")
    assert d.escalate is not None and d.escalate.queue == "general"
    assert [o["flow"] for o in d.escalate.reason["also_asked"]] == ["order_status"]
    assert d.replies[-1].text.endswith("(order) for the person who takes over.")


async def test_the_note_is_in_the_fans_language() -> None:
    fan = Fan("es")
    await fan.say("quiero un reembolso y dónde está mi pedido?", first="refund_request")
    assert fan.state["queued"]["intent"] == "order_status"
    d = await fan.say("VT-100200")
    assert d.escalate is not None
    assert d.replies[-1].text == "También he anotado tu otra petición (pedido) para la persona que se encargue."


async def test_one_request_escalates_without_a_note() -> None:
    fan = Fan()
    d = await fan.say("connect me with a person")
    assert d.escalate is not None and "also_asked" not in d.escalate.reason and len(d.replies) == 1
