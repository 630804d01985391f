"""The flow engine (`dialogs/policy.py`) without a model: hand-made NLU results, small flows in tmp_path,
and the shipped demo flows with the demo orders table. Every state goes through JSON between turns, as it
does through the conversation store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from bot.orders import CsvOrderTable
from dialogs.actions import ActionCall, ActionRegistry, ActionResult
from dialogs.builtin_actions import builtin_actions
from dialogs.domain import Button, Domain
from dialogs.flows import load_flows
from dialogs.policy import Decision, DialogPolicy, Turn
from nlu.model import ParseResult

REPO = Path(__file__).resolve().parents[2]


def parse(text: str, intent: str = "inform", confidence: float = 0.95, entities: dict[str, str] | None = None,
          *, fallback: bool = False, encoder: str | None = "minilm",
          requests: list[ParseResult] | None = None) -> ParseResult:
    """What the NLU would return. encoder=None is a button payload; "minilm" a typed message;
    `requests`: the two requests the NLU found in the message, each read on its own."""
    ents = [{"entity": k, "value": v} for k, v in (entities or {}).items()]
    p = ParseResult(text, intent, confidence, fallback, [(intent, confidence)], ents, "en", encoder, "test")
    p.requests = list(requests or [])
    p.intents = [(r.intent, r.confidence) for r in p.requests] or [(intent, confidence)]
    return p


class Chat:
    """One conversation: keeps the state between turns, through JSON like the store does."""

    def __init__(self, policy: DialogPolicy, state: dict[str, Any] | None = None) -> None:
        self.policy = policy
        self.state: dict[str, Any] = state or {}

    async def say(self, text: str, intent: str = "inform", entities: dict[str, str] | None = None,
                  **kw: Any) -> Decision:
        d = await self.policy.decide(parse(text, intent, entities=entities, **kw), self.state, Turn(1, text, "Sam"))
        self.state = json.loads(json.dumps(d.state))
        return d

    @property
    def stack(self) -> list[dict[str, Any]]:
        return self.state.get("stack", [])

    @property
    def slots(self) -> dict[str, Any]:
        return self.state.get("slots", {})


def names(d: Decision) -> list[str | None]:
    return [r.response for r in d.replies]


def events(d: Decision) -> list[str]:
    return [e for e, _ in d.events]


# -- a small brand of our own ------------------------------------------------------------------------------

DOMAIN = """\
version: "3.1"
responses:
  utter_ask_color: [{text: "Which colour?"}]
  utter_ask_size: [{text: "Which size?"}]
  utter_invalid_size: [{text: "Small, medium or large?"}]
  utter_in_stock: [{text: "A {size} {color} shirt is in stock."}]
  utter_out_of_stock: [{text: "Sorry, no {size} {color} shirts."}]
  utter_ask_a: [{text: "A?"}]
  utter_sub_done: [{text: "Got {a}."}]
  utter_after_call: [{text: "Back in the caller at {stage} with {a}."}]
  utter_linking: [{text: "Let's shop instead."}]
  utter_ask_details: [{text: "What happened?"}]
  utter_escalated: [{text: "Ticket #{ticket} for {details}."}]
  utter_ask_code: [{text: "Your voucher number?"}]
  utter_invalid_code: [{text: "A voucher looks like #1234."}]
  utter_code_give_up: [{text: "I'll stop asking for the voucher."}]
  utter_code_ok: [{text: "Voucher {code} noted."}]
  utter_ask_note: [{text: "Anything to add?"}]
  utter_noted: [{text: "Noted: {note}."}]
  utter_ask_order_number: [{text: "Order number?"}]
  utter_got_order: [{text: "Order {order_number}."}]
  utter_ask_complaint: [{text: "Tell me more."}]
  utter_complaint_noted: [{text: "Noted: {complaint}"}]
  utter_ask_city: [{text: "Which city?"}]
  utter_city_noted: [{text: "City: {city}."}]
  utter_summary: [{text: "{size} in {city}."}]
  utter_never: [{text: "never sent"}]
  utter_got_a: [{text: "A is {a}."}]
  utter_again: [{text: "Again, please."}]
  utter_form_cancelled: [{text: "Stopped."}]
  utter_form_give_up: [{text: "Giving up."}]
  utter_action_failed: [{text: "Something broke."}]
  utter_resume_flow: [{text: "Back to your {flow}:"}]
  utter_anything_else: [{text: "Anything else?"}]
  utter_default: [{text: "Say again?"}]
  utter_greet: [{text: "Hi {name}!"}]
  utter_goodbye: [{text: "Bye {name}!"}]
  utter_handoff: [{text: "A person will help (#{ticket})."}]
"""

FLOWS = """\
version: "1"
slots:
  color: {type: categorical, values: [red, green]}
  size: {type: text}
  in_stock: {type: bool}
  a: {type: text}
  stage: {type: text}
  details: {type: text}
  code: {type: text}
  note: {type: text}
  order_number: {type: text}
  complaint: {type: text}
  city: {type: text}
flows:
  shop:
    name: shirt order
    description: Order a shirt (collect, custom action, branch).
    nlu_trigger: [{intent: shop}]
    steps:
      - collect: color
        validate:
          choices: [{title: Red, value: red}, {title: Green, value: green}]
      - collect: size
        validate: {lookup: [small, medium, large]}
      - action: action_check_stock
        next:
          - if: slots.in_stock
            then:
              - action: utter_in_stock
                next: END
          - else:
              - action: utter_out_of_stock
  caller:
    description: Sets a slot and calls another flow.
    nlu_trigger: [{intent: caller}]
    steps:
      - set_slots:
          - stage: started
      - call: sub
      - action: utter_after_call
  sub:
    description: Called by caller.
    steps:
      - collect: a
      - action: utter_sub_done
  linker:
    description: Hands over to the shop.
    nlu_trigger: [{intent: linker}]
    steps:
      - action: utter_linking
      - link: shop
  escalator:
    description: A ticket for billing.
    nlu_trigger: [{intent: escalator}]
    steps:
      - collect: details
      - escalate: {queue: billing, priority: high}
        utter: utter_escalated
  voucher:
    description: Regex validation with a group and three attempts.
    nlu_trigger: [{intent: voucher}]
    steps:
      - collect: code
        validate: {regex: '#(\\d{4})\\b'}
        max_attempts: 3
        on_give_up: utter_code_give_up
        reask: utter_invalid_code
      - action: utter_code_ok
  noting:
    description: An optional slot.
    nlu_trigger: [{intent: noting}]
    steps:
      - collect: note
        optional: true
      - action: utter_noted
  order:
    description: An order number from the message.
    nlu_trigger: [{intent: order}]
    steps:
      - collect: order_number
        validate: {entity: order_number, normalise: order_number}
      - action: utter_got_order
  complain:
    description: A message that already explains is enough.
    nlu_trigger: [{intent: complain}]
    steps:
      - collect: complaint
        utter: utter_ask_complaint
        prefill: {min_words: 5}
      - action: utter_complaint_noted
  trip:
    description: Two slots, for corrections.
    nlu_trigger: [{intent: trip}]
    steps:
      - collect: city
        validate: {lookup: [Berlin, Paris, Rome]}
      - action: utter_city_noted
      - collect: size
        validate: {lookup: [small, medium, large]}
      - action: utter_summary
  broken:
    description: Its action raises.
    nlu_trigger: [{intent: broken}]
    steps:
      - collect: a
      - action: action_boom
      - action: utter_never
  slow:
    description: Its action times out.
    nlu_trigger: [{intent: slow}]
    steps:
      - collect: a
      - action: action_slow
      - action: utter_never
  junk:
    description: Its action returns something else than an ActionResult.
    nlu_trigger: [{intent: junk}]
    steps:
      - action: action_junk
      - action: utter_never
  saying:
    description: Its action answers with a response and with text.
    nlu_trigger: [{intent: saying}]
    steps:
      - action: action_say
  retry:
    description: Clears the slot and asks again.
    nlu_trigger: [{intent: retry}]
    steps:
      - id: ask
        collect: a
      - next:
          - if: slots.a == 'bad'
            then:
              - action: utter_again
              - set_slots: [{a: null}]
                next: ask
          - else:
              - action: utter_got_a
  polite:
    description: Asks even when the message has the value.
    nlu_trigger: [{intent: polite}]
    steps:
      - collect: order_number
        ask_before_filling: true
        validate: {entity: order_number}
      - action: utter_got_order
  preset:
    description: Sets a then calls a flow that collects it.
    nlu_trigger: [{intent: preset}]
    steps:
      - set_slots: [{a: "from the caller"}]
      - call: needs_a
  needs_a:
    description: Collects a.
    steps:
      - collect: a
      - action: utter_got_a
"""


def check_stock(call: ActionCall) -> ActionResult:
    return ActionResult(slots={"in_stock": call.slots.get("size") != "large"})


def boom(call: ActionCall) -> ActionResult:
    raise RuntimeError("the stock service is down")


async def slow(call: ActionCall) -> ActionResult:
    await asyncio.sleep(5)
    return ActionResult()


def junk(call: ActionCall) -> Any:
    return {"slots": {}}


def say_things(call: ActionCall) -> ActionResult:
    return ActionResult(responses=[{"response": "utter_got_a", "values": {"a": "x1"}},
                                   {"text": "Plain text", "buttons": [{"title": "Go", "payload": "/go"}]}])


@pytest.fixture
def own(tmp_path: Path) -> DialogPolicy:
    return own_policy(tmp_path)


def own_policy(tmp_path: Path) -> DialogPolicy:
    """The policy over this module's own domain and flows (DOMAIN, FLOWS), written to `tmp_path`."""
    (tmp_path / "domain.yml").write_text(DOMAIN, encoding="utf-8")
    (tmp_path / "flows.yml").write_text(FLOWS, encoding="utf-8")
    domain = Domain.load(tmp_path / "domain.yml")
    registry = ActionRegistry(timeout_s=0.05)
    for name, fn in (("action_check_stock", check_stock), ("action_boom", boom), ("action_slow", slow),
                     ("action_junk", junk), ("action_say", say_things)):
        registry.register(name, fn)
    flows = load_flows([tmp_path / "flows.yml"], responses=set(domain.responses), actions=registry.names())
    return DialogPolicy(domain, None, None, flows=flows, actions=registry)


@pytest.fixture
def chat(own: DialogPolicy) -> Chat:
    return Chat(own)


# -- the shipped demo -------------------------------------------------------------------------------------


def demo_policy() -> DialogPolicy:
    domain = Domain.load(REPO / "dialogs" / "domain.yml")
    orders = CsvOrderTable(REPO / "dialogs" / "demo_orders.csv")
    registry = builtin_actions(ActionRegistry(), orders=orders)
    flows = load_flows([REPO / "dialogs" / "flows.yml"], responses=set(domain.responses),
                       actions=registry.names() | {"action_record_csat"})
    return DialogPolicy(domain, None, orders, flows=flows, actions=registry)


@pytest.fixture
def demo() -> Chat:
    return Chat(demo_policy())


# == a flow's steps ==========================================================================================


async def test_collect_action_branch_end(chat: Chat) -> None:
    d = await chat.say("I'd like a shirt", "shop")
    assert names(d) == ["utter_ask_color"]
    assert chat.stack == [{"flow": "shop", "step": 0, "waiting": True, "attempts": 0, "filled": {}, "kind": "root",
                           "asked": True}]
    d = await chat.say("Green")
    assert names(d) == ["utter_ask_size"]
    assert chat.slots == {"color": "green"}
    d = await chat.say("medium")
    assert d.replies[0].text == "A medium green shirt is in stock.\n\nAnything else?"  # the flow asked something
    assert chat.stack == []
    assert chat.slots["in_stock"] is True
    assert events(d) == ["flow.completed"]
    assert d.action == "flow:shop"


async def test_the_else_branch(chat: Chat) -> None:
    await chat.say("I'd like a shirt", "shop")
    await chat.say("Red")
    d = await chat.say("large")
    assert names(d) == ["utter_out_of_stock"]
    assert d.replies[0].text.startswith("Sorry, no large red shirts.")
    assert chat.slots["in_stock"] is False and chat.stack == []


async def test_choices_offer_buttons_and_take_a_typed_title(chat: Chat) -> None:
    d = await chat.say("I'd like a shirt", "shop")
    assert d.replies[0].buttons == (Button("Red", "Red"), Button("Green", "Green"))
    d = await chat.say("purple")  # not a choice: asked again, with the buttons
    assert names(d) == ["utter_ask_color"] and len(d.replies[0].buttons) == 2
    assert chat.stack[0]["attempts"] == 1
    await chat.say("the red one please")  # a title in a sentence
    assert chat.slots["color"] == "red"


async def test_choices_take_a_button_press(chat: Chat) -> None:
    await chat.say("I'd like a shirt", "shop")
    await chat.say("Green", "inform", encoder=None)
    assert chat.slots["color"] == "green"


async def test_lookup_tolerates_a_typo(chat: Chat) -> None:
    await chat.say("I'd like a shirt", "shop")
    await chat.say("red")
    d = await chat.say("meduim")
    assert chat.slots["size"] == "medium"
    assert names(d) == ["utter_in_stock"]


async def test_lookup_reasks_with_the_invalid_response(chat: Chat) -> None:
    await chat.say("I'd like a shirt", "shop")
    await chat.say("red")
    d = await chat.say("enormous")
    assert names(d) == ["utter_invalid_size"]  # utter_invalid_<slot> exists
    assert chat.stack[0]["waiting"] and chat.stack[0]["attempts"] == 1


async def test_set_slots_and_call_returns_to_the_caller(chat: Chat) -> None:
    d = await chat.say("go", "caller")
    assert names(d) == ["utter_ask_a"]
    assert [f["flow"] for f in chat.stack] == ["caller", "sub"]
    assert chat.stack[1]["kind"] == "call" and chat.slots["stage"] == "started"
    d = await chat.say("something")
    assert [r.text for r in d.replies] == ["Got something.", "Back in the caller at started with something."]
    assert chat.stack == []
    assert events(d) == ["flow.completed", "flow.completed"]


async def test_cancel_in_a_called_flow_ends_the_caller_too(chat: Chat) -> None:
    await chat.say("go", "caller")
    d = await chat.say("never mind")
    assert names(d) == ["utter_form_cancelled"]
    assert chat.stack == []


async def test_link_replaces_the_flow(chat: Chat) -> None:
    d = await chat.say("go", "linker")
    assert names(d) == ["utter_linking", "utter_ask_color"]
    assert [(f["flow"], f["kind"]) for f in chat.stack] == [("shop", "root")]


async def test_escalate_sets_queue_and_priority_and_clears_the_stack(own: DialogPolicy) -> None:
    chat = Chat(own)
    await chat.say("billing problem", "escalator")
    d = await chat.say("charged twice")
    assert d.escalate is not None
    assert (d.escalate.queue, d.escalate.priority) == ("billing", "high")
    assert d.escalate.reason["flow"] == "escalator" and d.escalate.reason["details"] == "charged twice"
    assert d.action == "escalate:billing"
    assert chat.stack == []
    assert [(r.text, r.response) for r in d.replies] == [("", "utter_escalated")]  # waits for the ticket number
    own.render_escalated(d, Turn(1, "charged twice"), ticket=42)
    assert d.replies[0].text == "Ticket #42 for charged twice."
    assert "pending_values" not in d.state


async def test_regex_takes_the_group(chat: Chat) -> None:
    await chat.say("I have a voucher", "voucher")
    d = await chat.say("it's voucher #1234 I think")
    assert chat.slots["code"] == "1234"
    assert d.replies[0].text == "Voucher 1234 noted.\n\nAnything else?"


async def test_max_attempts_then_the_give_up_response(chat: Chat) -> None:
    await chat.say("I have a voucher", "voucher")
    assert names(await chat.say("1234")) == ["utter_invalid_code"]
    assert names(await chat.say("12345")) == ["utter_invalid_code"]
    d = await chat.say("the one in the email")
    assert names(d) == ["utter_code_give_up"]
    assert "flow.gave_up" in events(d) and d.action == "flow:voucher:gave_up"
    assert chat.stack == []


async def test_the_default_number_of_attempts_is_the_policys(chat: Chat) -> None:
    await chat.say("I'd like a shirt", "shop")
    await chat.say("purple")
    d = await chat.say("blue")  # form_max_attempts defaults to 2; no on_give_up: utter_form_give_up
    assert names(d) == ["utter_form_give_up"]
    assert chat.stack == []


async def test_optional_slot_skipped_with_i_dont_know(chat: Chat) -> None:
    await chat.say("I want to add a note", "noting")
    d = await chat.say("I don't know")
    assert "note" not in chat.slots
    assert "flow.skipped" in events(d)
    assert names(d) == ["utter_noted"] and chat.stack == []


async def test_a_required_slot_is_not_skipped(chat: Chat) -> None:
    await chat.say("go", "caller")
    await chat.say("skip")
    assert "a" not in chat.slots and chat.stack  # a required answer: "skip" is not one, the question is asked again


async def test_prefill_from_an_entity_in_the_triggering_message(chat: Chat) -> None:
    d = await chat.say("what about order vt 482913", "order", {"order_number": "vt 482913"})
    assert [r.text for r in d.replies] == ["Order VT-482913."]  # normalised, never asked
    assert chat.stack == []


async def test_prefill_by_min_words(chat: Chat) -> None:
    d = await chat.say("my speaker broke after two days", "complain")
    assert [r.text for r in d.replies] == ["Noted: my speaker broke after two days"]
    chat2 = Chat(chat.policy)
    d = await chat2.say("it broke", "complain")  # too short to be the explanation: asked
    assert names(d) == ["utter_ask_complaint"]
    d = await chat2.say("it stopped charging")
    assert chat2.slots["complaint"] == "it stopped charging"


async def test_a_free_text_collect_does_not_prefill_without_min_words(chat: Chat) -> None:
    d = await chat.say("the caller flow please with a long sentence here", "caller")
    assert names(d) == ["utter_ask_a"]


async def test_a_custom_action_sets_slots_used_by_a_branch(own: DialogPolicy) -> None:
    seen: list[ActionCall] = []

    def spy(call: ActionCall) -> ActionResult:
        seen.append(call)
        return check_stock(call)

    own.actions.register("action_check_stock", spy)
    chat = Chat(own)
    await chat.say("I'd like a shirt", "shop")
    await chat.say("red")
    d = await chat.say("small")
    assert names(d) == ["utter_in_stock"]
    (call,) = seen
    assert call.flow == "shop" and call.slots == {"color": "red", "size": "small"}
    assert call.text == "small" and call.sender_id == "1" and call.display_name == "Sam"
    assert chat.stack == []


async def test_an_action_answers_with_a_response_and_with_text(chat: Chat) -> None:
    d = await chat.say("go", "saying")
    assert [(r.text, r.response) for r in d.replies] == [("A is x1.", "utter_got_a"), ("Plain text", None)]
    assert d.replies[1].buttons == (Button("Go", "/go"),)


@pytest.mark.parametrize(("intent", "error"), [
    ("broken", "failed: RuntimeError"),
    ("slow", "timed out after 0.05 s"),
])
async def test_a_failing_or_slow_action_apologises_and_drops_the_task(chat: Chat, intent: str, error: str) -> None:
    await chat.say("go", intent)
    d = await chat.say("an answer")
    assert names(d) == ["utter_action_failed"]
    failed = [p for e, p in d.events if e == "action.failed"]
    assert len(failed) == 1 and failed[0]["flow"] == intent and error in failed[0]["error"]
    assert d.action == f"flow:{intent}:action_failed"
    assert chat.stack == []
    assert "a" not in chat.slots  # what the task collected goes with it


async def test_an_action_returning_junk_is_a_failure(chat: Chat) -> None:
    d = await chat.say("go", "junk")
    assert names(d) == ["utter_action_failed"]
    assert "not an ActionResult" in dict(d.events)["action.failed"]["error"]
    assert chat.stack == []


async def test_greet_in_the_middle_of_a_flow_is_answered_and_the_flow_resumes(chat: Chat) -> None:
    await chat.say("I'd like a shirt", "shop")
    d = await chat.say("hello", "greet")
    assert [r.text for r in d.replies] == ["Hi Sam!", "Back to your shirt order: Which colour?"]
    assert chat.stack[0]["waiting"] and chat.stack[0]["attempts"] == 0


async def test_goodbye_in_the_middle_of_a_flow_ends_it(chat: Chat) -> None:
    await chat.say("I'd like a shirt", "shop")
    d = await chat.say("bye", "goodbye")
    assert [r.text for r in d.replies] == ["Bye Sam!"] and chat.stack == []


async def test_an_unknown_flow_on_the_stack_is_dropped(chat: Chat) -> None:
    chat.state = {"stack": [{"flow": "gone", "step": 0, "waiting": True, "attempts": 0, "filled": {},
                             "kind": "root"}], "slots": {}}
    d = await chat.say("I'd like a shirt", "shop")
    assert names(d) == ["utter_ask_color"]
    assert [f["flow"] for f in chat.stack] == ["shop"]


async def test_state_from_before_flows_is_dropped(chat: Chat) -> None:
    chat.state = {"form": "order_status", "requested_slot": "order_number", "attempts": 1}
    d = await chat.say("I'd like a shirt", "shop")
    assert names(d) == ["utter_ask_color"]
    assert not {"form", "requested_slot", "attempts"} & set(chat.state)


# -- engine bugs (xfail until dialogs/policy.py is fixed) --------------------------------------------------


async def test_a_slot_cleared_with_null_is_asked_again(chat: Chat) -> None:
    await chat.say("go", "retry")
    d = await chat.say("bad")
    assert names(d) == ["utter_again", "utter_ask_a"]
    assert chat.stack and chat.stack[0]["waiting"]
    d = await chat.say("good")
    assert names(d)[0] == "utter_got_a"


async def test_ask_before_filling_asks_even_when_the_message_has_the_value(chat: Chat) -> None:
    d = await chat.say("order VT-482913 please", "polite", {"order_number": "VT-482913"})
    assert names(d) == ["utter_ask_order_number"]


async def test_a_called_flow_uses_a_slot_the_caller_set(chat: Chat) -> None:
    d = await chat.say("go", "preset")
    assert [r.text for r in d.replies] == ["A is from the caller."]


# == conversation repair ========================================================================================


async def test_cancel_mid_flow_clears_what_was_collected(chat: Chat) -> None:
    await chat.say("I'd like a shirt", "shop")
    await chat.say("red")
    assert chat.slots["color"] == "red"
    d = await chat.say("never mind")
    assert names(d) == ["utter_form_cancelled"]
    assert chat.stack == [] and "color" not in chat.slots
    assert ("flow.cancelled", {"flow": "shop"}) in d.events
    assert d.action == "flow_cancelled"


async def test_cancel_mid_flow_in_the_demo(demo: Chat) -> None:
    d = await demo.say("I want a refund", "refund_request")
    assert names(d) == ["utter_ask_refund_order_number"]
    d = await demo.say("never mind", "deny")
    assert [r.text for r in d.replies] == ["No problem, I've stopped that. What else can I do for you?"]
    assert demo.stack == [] and d.escalate is None


async def test_a_real_request_that_starts_with_stop_does_not_cancel(demo: Chat) -> None:
    await demo.say("I want a refund", "refund_request")
    d = await demo.say("stop sending me emails about the order VT-100200 I need a refund", "refund_request",
                       {"order_number": "VT-100200"})
    assert "flow.cancelled" not in events(d)
    assert d.escalate is not None and d.escalate.reason["order_number"] == "VT-100200"


async def test_an_order_status_interrupts_a_refund_which_resumes(demo: Chat) -> None:
    await demo.say("I want a refund", "refund_request")
    d = await demo.say("where is my order VT-482913 please, it's taking forever", "order_status",
                       {"order_number": "VT-482913"})
    assert names(d) == ["utter_order_status", "utter_ask_refund_order_number"]
    assert d.replies[0].text.startswith("Order VT-482913 (Voltora Buds Pro) is shipped.")
    assert d.replies[1].text.startswith("Back to your refund: I can help with a refund.")
    assert ("flow.interrupted", {"flow": "refund", "by": "order_status"}) in d.events
    assert d.escalate is None
    assert [(f["flow"], f["waiting"], f["filled"]) for f in demo.stack] == [("refund", True, {})]
    # and the refund goes on with the next answer
    d = await demo.say("VT-100200", "inform", {"order_number": "VT-100200"})
    assert d.escalate is not None and d.escalate.queue == "refunds"
    assert d.escalate.reason["order_number"] == "VT-100200" and d.escalate.reason["flow"] == "refund"


async def test_a_handoff_in_the_middle_of_a_refund_escalates_and_clears_everything(demo: Chat) -> None:
    await demo.say("I want a refund", "refund_request")
    d = await demo.say("can I talk to a real person", "human_handoff")
    assert d.escalate is not None and (d.escalate.queue, d.escalate.priority) == ("general", None)
    assert demo.stack == []  # the paused refund is not resumed behind the person's back
    assert names(d) == ["utter_handoff"]


async def test_crisis_is_urgent(demo: Chat) -> None:
    d = await demo.say("my charger caught fire", "crisis")
    assert d.escalate is not None and (d.escalate.queue, d.escalate.priority) == ("crisis", "urgent")


async def test_a_bare_answer_is_not_an_interruption(demo: Chat) -> None:
    """The NLU may read a bare order number as order_status: while a refund waits for it, it is the answer."""
    await demo.say("I want a refund", "refund_request")
    d = await demo.say("VT-100200", "order_status", {"order_number": "VT-100200"})
    assert "flow.interrupted" not in events(d)
    assert d.escalate is not None and d.escalate.queue == "refunds"


async def test_switch_drops_the_refund(demo: Chat) -> None:
    await demo.say("I want a refund", "refund_request")
    d = await demo.say("actually, where is my order VT-555123 instead?", "order_status",
                       {"order_number": "VT-555123"})
    assert names(d) == ["utter_order_status"]
    assert "VT-555123 (Voltora Arc) is processing" in d.replies[0].text
    assert ("flow.switched", {"from": "refund", "to": "order_status"}) in d.events
    assert demo.stack == [] and d.escalate is None


async def test_first_pauses_instead_of_switching(demo: Chat) -> None:
    await demo.say("I want a refund", "refund_request")
    d = await demo.say("first, where is my order VT-555123 instead?", "order_status", {"order_number": "VT-555123"})
    assert "flow.interrupted" in events(d) and "flow.switched" not in events(d)
    assert [f["flow"] for f in demo.stack] == ["refund"]


async def test_correction_right_after_an_order_status(demo: Chat) -> None:
    d = await demo.say("where is my order?", "order_status")
    assert names(d) == ["utter_ask_order_number"]
    d = await demo.say("VT-482913", "inform", {"order_number": "VT-482913"})
    assert "VT-482913 (Voltora Buds Pro) is shipped" in d.replies[0].text
    d = await demo.say("sorry, it's VT-100200", "inform", {"order_number": "VT-100200"})
    assert "flow.corrected" in events(d)
    assert names(d) == ["utter_order_status"]
    assert d.replies[0].text.startswith("Order VT-100200 (Voltora Pulse 3) is delivered.")
    assert demo.slots["order_number"] == "VT-100200"


async def test_a_correction_is_only_taken_for_a_few_turns(demo: Chat) -> None:
    await demo.say("where is my order?", "order_status")
    await demo.say("VT-482913", "inform", {"order_number": "VT-482913"})
    for _ in range(3):
        await demo.say("hi", "greet")
    d = await demo.say("sorry, it's VT-100200", "inform", {"order_number": "VT-100200"})
    assert "flow.corrected" not in events(d)


async def test_correction_after_an_order_status_given_in_the_first_message(demo: Chat) -> None:
    await demo.say("where is my order VT-482913", "order_status", {"order_number": "VT-482913"})
    d = await demo.say("sorry, it's VT-100200", "inform", {"order_number": "VT-100200"})
    assert "flow.corrected" in events(d)
    assert d.replies[0].text.startswith("Order VT-100200 (Voltora Pulse 3) is delivered.")


async def test_correction_of_an_earlier_slot_reruns_from_there(chat: Chat) -> None:
    await chat.say("plan a trip", "trip")
    d = await chat.say("Berlin")
    assert [r.text for r in d.replies] == ["City: Berlin.", "Which size?"]
    d = await chat.say("sorry, I meant Paris")
    assert ("flow.corrected", {"flow": "trip", "slot": "city"}) in d.events
    assert [r.text for r in d.replies] == ["City: Paris.", "Which size?"]
    assert chat.slots["city"] == "Paris" and chat.stack[0]["waiting"]
    d = await chat.say("small")
    assert d.replies[0].text.startswith("small in Paris.")


async def test_the_same_value_again_is_not_a_correction(chat: Chat) -> None:
    await chat.say("plan a trip", "trip")
    await chat.say("Berlin")
    d = await chat.say("sorry, I meant Berlin")
    assert "flow.corrected" not in events(d)
    assert names(d) == ["utter_invalid_size"]


ORDER_PART = parse("where is VT-482913", "order_status", entities={"order_number": "VT-482913"})
REFUND_PART = parse("can I get a refund for VT-100200", "refund_request", entities={"order_number": "VT-100200"})


async def test_yes_after_an_offered_second_request_starts_it() -> None:
    chat = Chat(demo_policy())
    text = "where is VT-482913 and can I get a refund for VT-100200"
    d = await chat.say(text, "order_status", {"order_number": "VT-482913"}, requests=[ORDER_PART, REFUND_PART])
    assert ("nlu.two_requests", {"first": "order_status", "second": "refund_request"}) in d.events
    assert names(d) == ["utter_order_status", "utter_offer_second"]
    assert d.replies[1].text == "You also asked about your refund. Shall I help with that next?"
    assert d.replies[1].buttons == (Button("Yes, refund", '/refund_request{"order_number": "VT-100200"}'),)
    assert chat.state["offer"]["intent"] == "refund_request"
    d = await chat.say("yes please", "affirm")
    assert [f["flow"] for f in chat.stack] == ["refund"] or d.escalate is not None
    assert "offer" not in chat.state


async def test_yes_to_an_offer_keeps_the_values_of_the_second_request() -> None:
    chat = Chat(demo_policy())
    await chat.say("where is VT-482913 and can I get a refund for VT-100200", "order_status",
                   {"order_number": "VT-482913"}, requests=[ORDER_PART, REFUND_PART])
    d = await chat.say("yes", "affirm")
    assert d.escalate is not None and d.escalate.reason["order_number"] == "VT-100200"


async def test_an_offer_is_forgotten_when_the_fan_says_something_else() -> None:
    chat = Chat(demo_policy())
    await chat.say("where is VT-482913 and can I get a refund please", "order_status", {"order_number": "VT-482913"},
                   requests=[ORDER_PART, parse("can I get a refund please", "refund_request")])
    assert chat.state["offer"]["intent"] == "refund_request"
    d = await chat.say("hello", "greet")
    assert names(d) == ["utter_greet"] and "offer" not in chat.state
    d = await chat.say("yes", "affirm")
    assert chat.stack == [] and "utter_ask_refund_order_number" not in names(d)


async def test_a_second_task_waits_while_the_first_asks() -> None:
    chat = Chat(demo_policy())
    d = await chat.say("where is my order and can I get a refund please", "order_status",
                       requests=[parse("where is my order", "order_status"),
                                 parse("can I get a refund please", "refund_request")])
    assert names(d) == ["utter_ask_order_number"]
    assert "nlu.second_request_pending" in events(d) and "offer" not in chat.state
    assert chat.state["queued"]["intent"] == "refund_request"  # offered once the order question is done


async def test_two_requests_that_read_alike_are_one() -> None:
    chat = Chat(demo_policy())
    d = await chat.say("where is my order and where is my parcel", "order_status",
                       requests=[parse("where is my order", "order_status"), parse("where is my parcel", "order_status")])
    assert "nlu.two_requests" not in events(d) and names(d) == ["utter_ask_order_number"]


async def test_no_second_request_for_a_button_payload() -> None:
    chat = Chat(demo_policy())
    await chat.say("where is my order and can I get a refund please", "order_status", encoder=None,
                   requests=[parse("where is my order", "order_status"),
                             parse("can I get a refund please", "refund_request")])
    assert "offer" not in chat.state and "queued" not in chat.state


# -- csat ----------------------------------------------------------------------------------------------------


async def test_csat_rating(demo: Chat) -> None:
    demo.state = {"awaiting_csat": 7}
    d = await demo.say("5", "inform")
    assert d.csat == (7, 5)
    assert names(d) == ["utter_csat_thanks"]
    assert d.action == "flow:csat"
    assert demo.stack == [] and "awaiting_csat" not in demo.state


@pytest.mark.parametrize(("text", "rating"), [
    ("4/5", 4), ("3 stars", 3), ("5 ⭐⭐⭐⭐⭐", 5), (" 2! ", 2), ('/csat{"rating": "1"}', 1),
])
async def test_csat_rating_forms(demo: Chat, text: str, rating: int) -> None:
    demo.state = {"awaiting_csat": 9}
    d = await demo.say(text, "inform", encoder=None if text.startswith("/") else "minilm")
    assert d.csat == (9, rating)


@pytest.mark.parametrize("text", ["6", "0", "12", "5 is too many questions"])
async def test_csat_not_a_rating(demo: Chat, text: str) -> None:
    demo.state = {"awaiting_csat": 9}
    d = await demo.say(text, "inform")
    assert d.csat is None and "utter_csat_thanks" not in names(d)
    assert demo.stack == []


async def test_csat_not_a_rating_is_a_new_message(demo: Chat) -> None:
    demo.state = {"awaiting_csat": 7}
    d = await demo.say("where is my order", "order_status")
    assert d.csat is None
    assert names(d) == ["utter_ask_order_number"]
    assert [f["flow"] for f in demo.stack] == ["order_status"]
    assert "awaiting_csat" not in demo.state


# -- state ----------------------------------------------------------------------------------------------------


async def test_state_round_trips_through_json(demo: Chat) -> None:
    await demo.say("I want a refund", "refund_request")
    d = await demo.policy.decide(parse("where is my order VT-482913 please, it's so late", "order_status",
                                       entities={"order_number": "VT-482913"}),
                                 demo.state, Turn(1, "where is my order VT-482913 please, it's so late"))
    text = json.dumps(d.state)
    assert json.loads(text) == d.state
    d2 = await demo.policy.decide(parse("VT-100200", "inform", entities={"order_number": "VT-100200"}),
                                  json.loads(text), Turn(1, "VT-100200"))
    assert d2.escalate is not None
    json.dumps(d2.state)


async def test_decide_does_not_change_the_state_it_was_given(chat: Chat) -> None:
    await chat.say("I'd like a shirt", "shop")
    before = json.loads(json.dumps(chat.state))
    given = json.loads(json.dumps(chat.state))
    await chat.policy.decide(parse("red"), given, Turn(1, "red"))
    assert given == before


async def test_every_state_of_a_long_conversation_is_json(own: DialogPolicy) -> None:
    chat = Chat(own)  # Chat.say itself goes through json.dumps: any non-JSON value would fail here
    script = [("I'd like a shirt", "shop", None), ("hello", "greet", None), ("Green", "inform", None),
              ("meduim", "inform", None), ("go", "caller", None), ("x", "inform", None), ("plan a trip", "trip", None),
              ("Rome", "inform", None), ("sorry, I meant Paris", "inform", None), ("large", "inform", None),
              ("order VT-482913", "order", {"order_number": "VT-482913"}), ("go", "broken", None),
              ("y", "inform", None)]
    for text, intent, ents in script:
        await chat.say(text, intent, ents)
    assert chat.stack == []


async def test_a_one_word_reply_needs_a_sure_reading_to_interrupt(demo: Chat) -> None:
    """'abc' at the order number reads as poll_vote 0.80 (votes are short): an attempt at the answer,
    not a vote; 'human' at 0.91 is a real request for a person."""
    await demo.say("where is my order?", "order_status")
    d = await demo.say("abc", "poll_vote", confidence=0.80)
    assert "flow.interrupted" not in events(d) and "utter_no_poll" not in names(d)
    assert [f["flow"] for f in demo.stack] == ["order_status"]
    d = await demo.say("vote?", "poll_vote", confidence=0.80)  # a question is a new request
    assert ("flow.interrupted", {"flow": "order_status", "by": "poll_info"}) in d.events
    d = await demo.say("human", "human_handoff", confidence=0.91)
    assert d.escalate is not None and names(d) == ["utter_handoff"]
