"""The dialog policy: from (NLU result, conversation state) to replies, state and escalations.

Tasks are flows, written as data (`dialogs/flows.yml`, docs/flows.md); this module is the engine
that runs them, with conversation repair built in for every flow. The conversation's dialog stack
lives in its state (`state["stack"]`, stored with the conversation), so any worker can continue it:

    stack = [{"flow": "refund", "step": 0, "waiting": true, "attempts": 0, "filled": {...}, "kind": "root"},
             {"flow": "order_status", ..., "kind": "interrupt"}]   # top: what runs now

A message first answers the step the top flow waits on (`collect`), unless it cancels, skips,
corrects an earlier answer, asks a question (digression: answered, then "Back to your refund: ..."),
or starts another task (switch, or a pause when the fan wants something else first). Otherwise it
starts something new: a flow by its trigger intent (after the FAQ-or-task arbitration), a knowledge
base answer, a response, or the fallback.

Pure decision logic: it reads the knowledge base, the flows and runs actions, but writes nothing;
the pipeline persists what it returns.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from dialogs.acknowledgements import affirms, is_acknowledgement
from dialogs.actions import ActionCall, ActionRegistry, ActionResult
from dialogs.arbitration import (
    Arbitration,
    arbitrate,
    asks_after_refund,
    asks_where_own,
    reports_problem,
    upset,
    wants_done,
)
from dialogs.domain import Button, Domain, Outgoing
from dialogs.flows import END, NORMALISERS, Flow, FlowSet, Step
from dialogs.repair import (
    asks_for_help,
    asks_for_person,
    asks_why,
    didnt_help,
    extra_words,
    is_cancel,
    is_correction,
    is_question,
    is_skip,
    is_switch,
)
from knowledge_base import KnowledgeBase
from nlu.language import is_greeting
from nlu.model import ParseResult

SILENT_INTENTS = {"spam", "abuse"}
SIMPLE = {"greet": "utter_greet", "goodbye": "utter_goodbye", "thanks": "utter_thanks", "praise": "utter_praise"}
#: a sure reading of this (its flow's own bar met) interrupts any question a task waits on: a safety report
URGENT_INTENT = "crisis"
#: a reading under its flow's own bar but at least this sure is asked about ("is this about your urgent
#: report?"; a crisis before any runner-up task); a torn or weak one ("a driver threw my parcel over the
#: fence": crisis 0.51, complaint 0.46; "the picture from my beam projector is blurry": crisis 0.50) is
#: not: the runner-up task, else the fallback
CONFIRM_FROM = 0.7
#: ... from here for a safety report that is the top reading ("mijn dochtertje heeft een oordopje
#: ingeslikt": crisis 0.63, complaint 0.37 went to the complaint and a return-policy article)
URGENT_ASK = 0.6
#: readings an upset fan's words overrule (dialogs/arbitration.py `upset`): sarcasm, or the classifier's slip
SARCASTIC = ("thanks", "praise", "goodbye")
#: a one-word typed reply to a task's question is most likely an attempt at the answer ("abc", "2",
#: "no idea"): another task interrupts only when the reading is at least this sure ("refund" 1.0,
#: "human" 0.91; "abc" poll_vote 0.80 on the demo model)
ONE_WORD_SWITCH = 0.85
MAX_STEPS_PER_TURN = 200
#: the fan's words noted for a task's person (`Flow.notes`): at most this many, each cut to this length
MAX_NOTES = 3
NOTE_CHARS = 300
_MISSING = object()
CORRECTION_TURNS = 3  # a finished flow can be corrected for this many messages
CLARIFY_BELOW = 0.60  # a top intent this unsure, with a runner-up task within CLARIFY_MARGIN, gets a question
CLARIFY_MARGIN = 0.15
RUNNER_UP = 0.20  # the runner-up intent is trusted from here when the top one fell below its flow's threshold
TORN_SECOND = 0.25  # a fallback whose runner-up task holds this much ...
TORN_MASS = 0.9  # ... and the two tasks together this much is "torn between two tasks", not unknown
SWITCH_BAR = 0.40  # "forget the refund, where is my order?": a weaker reading of the new task is enough


@dataclass(frozen=True)
class EscalationRequest:
    queue: str
    reason: dict[str, Any]
    priority: str | None = None  # None: the queue's priority from config


@dataclass(frozen=True)
class Turn:
    """What the policy knows about the current message besides the NLU result."""

    conversation_id: int
    text: str
    display_name: str | None = None
    language: str | None = None


@dataclass
class Decision:
    replies: list[Outgoing] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    escalate: EscalationRequest | None = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    action: str = "none"
    csat: tuple[int, int] | None = None  # (escalation id, rating)
    #: shown by `fancare shell --debug`: e.g. "language_notes": ["utter_x: no pl translation, answered in en"]
    debug: dict[str, Any] = field(default_factory=dict)

    def note_language(self, note: str | None) -> None:
        """Record why a reply is not in the fan's language (once per reason)."""
        notes: list[str] = self.debug.setdefault("language_notes", [])
        if note and note not in notes:
            notes.append(note)


@dataclass
class _Ctx:
    """One turn being decided."""

    parse: ParseResult
    turn: Turn
    d: Decision
    message_free: bool = True  # the message has not been used as an answer yet (it may prefill collects)
    escalated: bool = False
    steps: int = 0
    verdict: Arbitration | None = None  # the FAQ-or-task choice, when one was made
    #: the other request of a two-request message while the first is handled (noted if that one escalates)
    second: ParseResult | None = None
    #: the task a message's second request paused to run at once (noted if the second one escalates)
    paused_by_second: str | None = None
    #: the message's two requests as read, once per message (None: one request); unset until split
    requests: tuple[ParseResult, ParseResult] | None | object = _MISSING
    #: what the task the fan switched away from this turn had collected, for the task they switch to
    carried: dict[str, Any] = field(default_factory=dict)

    @property
    def st(self) -> dict[str, Any]:
        return self.d.state

    @property
    def stack(self) -> list[dict[str, Any]]:
        stack: list[dict[str, Any]] = self.d.state.setdefault("stack", [])
        return stack

    @property
    def slots(self) -> dict[str, Any]:
        slots: dict[str, Any] = self.d.state.setdefault("slots", {})
        return slots



def _collects_order(flow: Flow) -> bool:
    """The task asks for an order number: the one a fan asking where their order is wants."""
    return any(s.slot == "order_number" for s in flow.steps)


class DialogPolicy:
    def __init__(self, domain: Domain, kb: KnowledgeBase | None, orders: Any, *, flows: FlowSet | None = None,
                 actions: ActionRegistry | None = None, kb_threshold: float = 0.62, answer_chars: int = 700,
                 max_fallbacks: int = 2, form_max_attempts: int = 2, confident: float = 0.7) -> None:
        from dialogs.builtin_actions import builtin_actions

        self.domain = domain
        self.kb = kb
        self.orders = orders
        self.flows = flows or FlowSet()
        self.actions = actions or ActionRegistry()
        if orders is not None and "action_lookup_order" not in self.actions.names():
            builtin_actions(self.actions, orders=orders, kb=kb, answer_chars=answer_chars, phrase=domain.phrase)
        self.kb_threshold = kb_threshold
        self.answer_chars = answer_chars
        self.max_fallbacks = max_fallbacks
        self.form_max_attempts = form_max_attempts
        self.confident = confident

    # -- rendering --------------------------------------------------------------------------------
    def _say(self, ctx: _Ctx, name: str, **values: Any) -> Outgoing:
        vals = {k: v for k, v in ctx.slots.items() if v is not None}
        vals.update(values)
        vals.setdefault("name", ctx.turn.display_name or "there")
        seed = f"{ctx.turn.conversation_id}:{len(ctx.d.replies)}:{ctx.turn.text}"
        out = self.domain.render(name, vals, language=ctx.turn.language, seed=seed)
        ctx.d.replies.append(out)
        return out

    @staticmethod
    def _entity(parse: ParseResult, name: str) -> str | None:
        for e in parse.entities:
            if e.get("entity") == name:
                return str(e.get("value"))
        return None

    def _reason(self, ctx: _Ctx, **extra: Any) -> dict[str, Any]:
        p = ctx.parse
        return {"intent": p.intent, "confidence": round(p.confidence, 3), "language": p.language, **extra}

    # -- entry ----------------------------------------------------------------------------------
    async def decide(self, parse: ParseResult, state: dict[str, Any], turn: Turn) -> Decision:
        d = await self._decide(parse, state, turn)
        self.note_languages(d, turn)
        return d

    def note_languages(self, d: Decision, turn: Turn) -> None:
        """Note each reply whose response is not in the fan's language (the fallback order's choice)."""
        for r in d.replies:
            if r.response:
                d.note_language(self.domain.language_note(r.response, turn.language))

    def _flow_name(self, ctx: _Ctx, flow: Flow, response: str) -> str:
        """`flow.name` as it reads in the language `response` is answered in."""
        lang = self.domain.answered_in(response, ctx.turn.language)
        return self.domain.flow_name(flow.id, flow.name, lang)

    def _phrase(self, ctx: _Ctx, key: str, **values: Any) -> str:
        return self.domain.phrase(key, ctx.turn.language, **values)

    async def _decide(self, parse: ParseResult, state: dict[str, Any], turn: Turn) -> Decision:
        d = Decision(state=copy.deepcopy(dict(state or {})))
        for old in ("form", "requested_slot", "attempts"):  # state written before flows existed
            d.state.pop(old, None)
        ctx = _Ctx(parse, turn, d)
        ctx.st.setdefault("slots", {})
        ctx.stack  # noqa: B018 - creates the key
        offer = ctx.st.pop("offer", None)
        self._age_last(ctx)
        esc = ctx.st.pop("awaiting_csat", None)
        if esc is not None and "csat" in self.flows.flows:
            ctx.slots["ticket"] = int(esc)
            ctx.stack.append(self._frame("csat", "root"))
            ctx.message_free = False
        answered = ctx.st.pop("answered", None)  # the article the last reply gave, if it was one
        if ctx.stack:
            if await self._continue(ctx):
                return d
        if answered and self._unhelped(ctx, str(answered)):
            return d
        if offer and affirms(turn.text):  # "yes" to "shall I also ...?": with what the fan said then
            ctx.parse = ParseResult(turn.text, str(offer["intent"]), 1.0, False, [(str(offer["intent"]), 1.0)],
                                    list(offer.get("entities") or []), parse.language, None, parse.model_version)
            return await self._start_by_intent(ctx, str(offer["intent"]), offered=True)
        await self._new_message(ctx)
        return d

    def _unhelped(self, ctx: _Ctx, article: str) -> bool:
        """"still doesn't work", "that's not what I asked" right after an article: the answer did not
        help. Not another search (the next article is rarely better: "still doesn't work" found the
        discount codes) but sorry and a person, and the article counted as unhelpful for the trainer
        (`faq.unhelpful`, the report's FAQ table). A message that asks for something too goes on as one."""
        text = ctx.turn.text
        if ("utter_faq_unhelpful" not in self.domain.responses or not didnt_help(text) or wants_done(text)
                or _carries_data(text)):
            return False
        ctx.d.events.append(("faq.unhelpful", {"article": article}))
        self._say(ctx, "utter_faq_unhelpful")
        ctx.d.action = "faq_unhelpful"
        return True

    # -- a message while a flow waits for an answer ------------------------------------------------
    async def _continue(self, ctx: _Ctx) -> bool:
        """Handle the message as (or instead of) the answer the top flow waits for; False: not handled."""
        frame = ctx.stack[-1]
        flow = self.flows.flows.get(frame["flow"])
        if flow is None or frame.get("step", END) == END:
            ctx.stack.clear()
            return False
        step = flow.step(frame["step"])
        if step.kind != "collect":  # only collect steps wait; anything else: carry on running
            await self._run(ctx)
            return True
        if not frame.get("waiting"):  # the csat flow pushed this turn: try the message as the answer
            value = self._extract(step, ctx, answering=True)
            if value is not None:
                self._fill(ctx, frame, step, value)
                await self._run(ctx)
                return True
            ctx.stack.pop()
            ctx.message_free = True  # not a rating: the message is a new request, with its values
            return False
        urgent = self.flows.for_intent(URGENT_INTENT, ctx.parse.confidence) \
            if ctx.parse.intent == URGENT_INTENT and not ctx.parse.fallback else None
        if urgent is not None and urgent.id != flow.id:
            # "my charger started smoking and melted" at the complaint's "tell me more" (a free-text step
            # that takes any text) or the order-number question: a sure safety report is never an answer
            ctx.d.events.append(("flow.interrupted", {"flow": flow.id, "by": urgent.id}))
            ctx.d.action = f"flow:{urgent.id}"
            ctx.stack.append(self._frame(urgent.id, "interrupt"))
            await self._run(ctx)
            return True
        # "ach egal, ich will eine Erstattung und wie lange dauert der Versand nach Spanien": each request
        # is read on its own (read whole, the message is neither); the first one is the reply to the
        # question, the second is answered or noted afterwards, as for a new message
        whole = ctx.parse
        second = self._two_requests(ctx)
        ctx.second = second  # noted for the person if the first request escalates
        handled = await self._reply_to_question(ctx, flow, step, frame,
                                                ctx.parse.text if second is not None else ctx.turn.text)
        ctx.second = None
        if not handled:  # a new message after all: it is read again, whole (and split again)
            ctx.parse = whole
            ctx.d.events = [e for e in ctx.d.events if e[0] != "nlu.two_requests"]
        elif second is not None and not ctx.escalated:
            await self._second_request(ctx, second)
        return handled

    async def _reply_to_question(self, ctx: _Ctx, flow: Flow, step: Step, frame: dict[str, Any], text: str) -> bool:
        """`text` (the message, or its first request) while `flow` waits at `step`: the answer, a cancel,
        a switch, another task, a question, or a miss; False when it turns out to be a new message."""
        parse = ctx.parse
        ctx.d.action = f"flow:{flow.id}"
        if is_cancel(text):
            self._cancel(ctx, say=True)
            return True
        if (asks_why(text) or asks_for_help(text)) and f"utter_explain_{step.slot}" in self.domain.responses:
            # "why do you need that?" (or "help") at the email-or-postcode question: why it is asked, then the
            # question again (no attempt spent); without `utter_explain_<slot>` it goes on as a question
            ctx.d.events.append(("flow.explained", {"flow": flow.id, "slot": step.slot}))
            why = self.domain.render(f"utter_explain_{step.slot}", ctx.slots, language=ctx.turn.language)
            self._ask(ctx, step, flow, intro=why.text)
            return True
        if step.optional and is_skip(text):
            self._fill(ctx, frame, step, None)
            ctx.d.events.append(("flow.skipped", {"flow": flow.id, "slot": step.slot}))
            await self._run(ctx)
            return True
        taking_back = is_switch(text)
        lost = is_skip(text)  # "I don't know" / "I can't find it" for a slot the task needs
        # "ok" is no email address or complaint: free text takes it only when it is more than that
        acknowledged = is_acknowledgement(text)
        heard_only = acknowledged and step.validate.kind in (None, "text")
        value = None if taking_back or lost or heard_only else self._extract(step, ctx, answering=True)
        bar = SWITCH_BAR if taking_back else self.confident
        if not taking_back and parse.encoder is not None and _one_word(text):
            bar = max(bar, ONE_WORD_SWITCH)  # "abc" at the order number (poll_vote 0.80) is a wrong answer
        other = None if lost else self._other_flow(ctx, flow, bar=bar)
        restated = taking_back and self._restates(ctx, flow, text)
        if taking_back and other is None and not lost and not restated:
            other = self._switch_target(ctx, flow)
        # "I want a refund" at the email-or-postcode question: free text would take it as the answer (and
        # count a failed proof); it is the other task (an interruption), a question, or this task again
        asks_instead = value is not None and self._asks_instead(ctx, flow, step, text, other)
        typed = value if asks_instead and other is None else None  # the answer, if the question goes unanswered
        if asks_instead:
            value = None
        if (other is not None and not taking_back and not lost and parse.intent in flow.notes
                and not is_question(text) and not asks_for_person(text)):
            # "because it arrived broken" (a complaint) at the refund's proof question: what the fan says
            # about this task, for the person it goes to, not a new task that would drop it
            said = self._note(ctx, flow, step, frame, text)
            if value is not None:  # "it came broken, my email is ana@example.com": the answer as well
                ctx.d.replies.append(Outgoing(text=said))
                self._fill(ctx, frame, step, value)
                ctx.message_free = False
                await self._run(ctx)
                return True
            self._ask(ctx, step, flow, intro=said)
            return True
        # "Hi, I want a refund" again at the refund's order number question: no order number in it, and
        # nothing an answer is made of, so no wrong answer either: the fan asks for this task again
        again = (value is None and not taking_back and not lost and other is None and not _carries_data(text)
                 and self._asks_for(ctx, flow))
        if ((taking_back or asks_instead or again) and other is None and not lost
                and (restated or self._asks_for(ctx, flow))):
            # "ach egal, ich will eine Erstattung" at the refund's proof question: no other task is asked
            # for ("forget the refund, where is my order?" reads as a refund too, but has one), and the fan
            # asks for this one again (or, without the cue, "I want a refund" there). It goes on; the
            # question stands, no attempt counted.
            ctx.d.events.append(("flow.restated", {"flow": flow.id, "slot": step.slot}))
            self._ask(ctx, step, flow)
            return True
        if taking_back and other is None:  # "forget the refund, ...": the rest is a new message
            ctx.d.events.append(("flow.cancelled", {"flow": flow.id}))
            ctx.carried = self._collected(ctx)  # for the task that message may start
            self._drop_task(ctx)
            ctx.message_free = True
            return False
        if other is not None and (value is None or taking_back or is_question(text)
                                  or extra_words(text, value) >= 3):
            if taking_back:
                ctx.d.events.append(("flow.switched", {"from": flow.id, "to": other.id}))
                ctx.carried = self._collected(ctx)
                self._drop_task(ctx)
                ctx.stack.append(self._new_task(ctx, other.id))
            else:
                ctx.d.events.append(("flow.interrupted", {"flow": flow.id, "by": other.id}))
                interrupt = self._frame(other.id, "interrupt")
                carried = self._collected(ctx)  # "I want a refund" at the order's proof: the same order
                if carried:
                    interrupt["carried"] = carried
                ctx.stack.append(interrupt)
            await self._run(ctx)
            return True
        # "sorry, it's VT-100200" at the email question: a free-text answer would take anything, but a
        # correction cue with a new value for an earlier answer is the correction
        free_text = step.validate.kind in (None, "text")
        # "VT-100200" alone at the email question: an earlier answer given again, never this one
        earlier = self._earlier_answer_only(ctx, flow, frame, text) if free_text and value is not None else None
        if (value is None or free_text) and (is_correction(text) or earlier) and self._correct(ctx, flow, frame):
            await self._run(ctx)
            return True
        if earlier:  # the same order number again: the question stands, no attempt counted
            ctx.d.events.append(("flow.repeated", {"flow": flow.id, "slot": earlier}))
            self._ask(ctx, step, flow)
            return True
        if value is not None:
            self._fill(ctx, frame, step, value)
            ctx.message_free = False
            await self._run(ctx)
            return True
        if step.leave_on_miss:
            ctx.stack.pop()
            return False
        if acknowledged:
            # "ok", or "d'accord" read as a goodbye: the fan heard the question, they did not answer it
            # nor leave. It stands, asked again, and no attempt is spent on it.
            ctx.d.events.append(("flow.acknowledged", {"flow": flow.id, "slot": step.slot}))
            self._ask(ctx, step, flow)
            return True
        # "555" at the order number question is a wrong answer, whatever it reads as ("greet" 0.78)
        sure = not parse.fallback and parse.confidence >= self.confident and not lost and not _numeric(text)
        if sure and parse.intent == "goodbye":
            self._drop_task(ctx)
            self._say(ctx, "utter_goodbye")
            ctx.d.action = "goodbye"
            return True
        if sure and parse.intent in SIMPLE:
            self._say(ctx, SIMPLE[parse.intent])
            self._resume(ctx, back=True)
            return True
        if not lost and self._digression(ctx, flow, text):
            self._resume(ctx, back=True)
            return True
        if typed is not None:
            # a question the knowledge base could not answer, typed at a free-text step ("could you make
            # it in blue?" at "what should we improve?"): the answer after all, as the step would take it
            self._fill(ctx, frame, step, typed)
            ctx.message_free = False
            await self._run(ctx)
            return True
        frame["attempts"] = int(frame.get("attempts", 0)) + 1
        limit = step.max_attempts or self.form_max_attempts
        if frame["attempts"] >= limit:
            ctx.d.events.append(("flow.gave_up", {"flow": flow.id, "slot": step.slot}))
            self._drop_task(ctx)
            self._say(ctx, step.on_give_up or "utter_form_give_up")
            ctx.d.action = f"flow:{flow.id}:gave_up"
            self._resume(ctx, back=True)
            return True
        reask = step.reask or (f"utter_invalid_{step.slot}" if f"utter_invalid_{step.slot}" in self.domain.responses
                               else None)
        if lost and f"utter_lost_{step.slot}" in self.domain.responses:
            # "I don't have my order number": where to find it and who can help, not "that doesn't look
            # like an order number"; the question stands (an attempt is spent: saying so again gives up)
            reask = f"utter_lost_{step.slot}"
        if reask:
            self._say(ctx, reask)
        else:
            self._ask(ctx, step, flow)
        return True

    def _other_flow(self, ctx: _Ctx, current: Flow, bar: float | None = None) -> Flow | None:
        """A different task the message confidently asks for (payloads count: a button was pressed), or
        a person asked for in so many words."""
        p = ctx.parse
        person = self._person_asked(ctx)
        if person is not None and person.id != current.id and not any(f["flow"] == person.id for f in ctx.stack):
            return person
        if p.fallback or p.confidence < (self.confident if bar is None else bar):
            return None
        other = self.flows.for_intent(p.intent, p.confidence)
        if other is None or other.id == current.id or any(f["flow"] == other.id for f in ctx.stack):
            return None
        return other

    def _asks_instead(self, ctx: _Ctx, flow: Flow, step: Step, text: str, other: Flow | None) -> bool:
        """`text`, which a free-text step would take as its answer, asks for something instead: a task
        (`other`, or `flow` itself again) the NLU reads confidently, or a question (a digression).

        Only for a step that takes replies typed for it (no `prefill`: the order's email or postcode),
        not one whose answer can be the request itself ("my speaker broke, I want my money back" is the
        complaint), and only for a message with nothing such a reply is made of (`_carries_data`): "I
        want a refund" is no proof, "1012 AB" or "my email is x@y.z" are, whatever the NLU reads."""
        if step.validate.kind not in (None, "text") or step.prefill_min_words is not None or _carries_data(text):
            return False
        p = ctx.parse
        faq = p.intent == "faq" and not p.fallback and p.confidence >= self.confident
        return other is not None or self._asks_for(ctx, flow) or is_question(text) or faq

    def _asks_for(self, ctx: _Ctx, flow: Flow) -> bool:
        """The message confidently asks for `flow` itself (its own trigger intent)."""
        p = ctx.parse
        return not p.fallback and p.confidence >= self.confident and self.flows.for_intent(p.intent, p.confidence) is flow

    def _restates(self, ctx: _Ctx, flow: Flow, text: str) -> bool:
        """'ach egal, ich will eine Erstattung' at the refund's question: the task the fan is in is the top
        reading and the words after the cue are a wish to have it done, not a question: this task asked
        for again. The readings cannot tell it from 'forget the refund, where is my order?' (refund 0.74,
        order 0.24 against refund 0.72, order 0.28, on the same model); the words can."""
        p = ctx.parse
        return (not p.fallback and self.flows.for_intent(p.intent) is flow and wants_done(text)
                and not is_question(text))

    def _switch_target(self, ctx: _Ctx, current: Flow) -> Flow | None:
        """'forget the refund, where is my order?': the words of the task being dropped pull the reading
        towards it (refund 0.67, order 0.33). Among the other readings, the task that holds most of what is
        left (share >= SWITCH_BAR of the probability not on the dropped task) is the one asked for."""
        ranking = ctx.parse.ranking
        dropped = sum(c for i, c in ranking if self.flows.for_intent(i) is current)
        rest = 1.0 - dropped
        if dropped <= 0 or rest <= 0.05:
            return None
        for intent, conf in ranking:
            other = self.flows.for_intent(intent)
            if other is None or other is current:
                continue
            # ... and is a reading of its own (RUNNER_UP): "ach egal, ich will eine Erstattung" at the
            # refund's question reads refund 0.85, order 0.12: most of a small rest, yet no order asked for;
            # unless the words ask for it: "забудьте про возврат, лучше скажите, где мой заказ" (refund 0.82)
            asked = asks_where_own(ctx.parse.text) and _collects_order(other)
            if conf / rest < SWITCH_BAR or (conf < RUNNER_UP and not asked) or any(f["flow"] == other.id for f in ctx.stack):
                return None
            return other
        return None

    def _digression(self, ctx: _Ctx, flow: Flow, text: str) -> bool:
        """A question in the middle of a task (`text`: the message, or the request of it being handled):
        answer it from the knowledge base."""
        p = ctx.parse
        if not (is_question(text) or (p.intent == "faq" and not p.fallback)):
            return False
        article = self._entity(p, "article") if p.intent == "faq" else None
        if article and self._answer_article(ctx, article):
            return True
        if self._answer_from_kb(ctx, self.kb_threshold):
            ctx.d.events.append(("flow.digression", {"flow": flow.id}))
            return True
        if p.intent == "faq" and not p.fallback and p.confidence >= self.confident:
            self._say(ctx, "utter_faq_unsure")
            ctx.d.events.append(("faq.unanswered", {}))
            return True
        return False

    def _earlier_answer_only(self, ctx: _Ctx, flow: Flow, frame: dict[str, Any], text: str) -> str | None:
        """The earlier slot of this flow the message is nothing but a value for ("VT-100200" or "my order
        is VT-100200" at the email-or-postcode question), or None."""
        for s in flow.collects():
            if s.slot is not None and s.slot in frame.get("filled", {}) and s.index < int(frame["step"]) \
                    and s.validate.kind not in (None, "text"):
                value = self._extract(s, ctx, answering=True, strict=True)
                if value is not None and extra_words(text, str(value)) == 0:
                    return s.slot
        return None

    def _correct(self, ctx: _Ctx, flow: Flow, frame: dict[str, Any]) -> bool:
        """'sorry, it's VT-100200': update an earlier answer of this flow and redo what followed it."""
        for s in flow.collects():
            if s.slot is not None and s.slot in frame.get("filled", {}) and s.index < int(frame["step"]):
                value = self._extract(s, ctx, answering=True, strict=True)
                if value is not None and value != frame["filled"][s.slot]:
                    frame["filled"][s.slot] = value
                    ctx.slots[s.slot] = value
                    frame["step"] = self._after(flow, s, ctx)
                    frame["waiting"] = False
                    ctx.message_free = False
                    ctx.d.events.append(("flow.corrected", {"flow": flow.id, "slot": s.slot}))
                    return True
        return False

    # -- running flows ----------------------------------------------------------------------------
    @staticmethod
    def _frame(flow_id: str, kind: str) -> dict[str, Any]:
        return {"flow": flow_id, "step": 0, "waiting": False, "attempts": 0, "filled": {}, "kind": kind,
                "asked": False}

    def _new_task(self, ctx: _Ctx, flow_id: str) -> dict[str, Any]:
        """The frame of a task the fan asks for, with what a task they just switched away from had
        collected (`carried`: its collects take it instead of asking again, see `_reuse`)."""
        frame = self._frame(flow_id, "root")
        if not ctx.carried:
            ctx.carried = self._from_last(ctx)
        if ctx.carried:
            frame["carried"], ctx.carried = ctx.carried, {}
        return frame

    def _from_last(self, ctx: _Ctx) -> dict[str, Any]:
        """'ok, I want to return it' right after the order's status: the new task takes the order just
        looked up (told so: `utter_reuse_<slot>`, and correctable), as after a switch. Only from a task
        that looked something up (no hand-over) a few messages ago, never for "my other order"."""
        last = ctx.st.get("last")
        flow = self.flows.flows.get(str(last.get("flow"))) if last else None
        if (not last or flow is None or _hands_over(flow)
                or _OTHER_ONE.search(ctx.turn.text) or _carries_data(ctx.turn.text)):
            return {}  # "I want a refund and where is VT-555123": a number of its own, for one request or both
        asked = {s.slot for s in flow.collects() if not s.ask_before_filling}
        return {k: v for k, v in (last.get("filled") or {}).items() if k in asked and v is not None}

    def _collected(self, ctx: _Ctx) -> dict[str, Any]:
        """The values the top task (its frame and the frames that called it) collected from the fan.

        Only answers to its `collect` steps: what its actions worked out (`order_verified`) is not
        carried, a new task works that out again (ownership: from what this conversation proved)."""
        out: dict[str, Any] = {}
        for frame in reversed(ctx.stack):
            flow = self.flows.flows.get(frame["flow"])
            asked = {s.slot for s in flow.collects()} if flow else set()
            for k, v in frame.get("filled", {}).items():
                if k in asked and v is not None:
                    out.setdefault(k, v)
            if frame["kind"] != "call":
                break
        return out

    def _reuse(self, ctx: _Ctx, frame: dict[str, Any], flow: Flow, step: Step) -> bool:
        """Fill `step` from what the task the fan switched away from collected (as Rasa keeps slots across
        flows): "where is my order?" - "VT-482913" - "forget it, I want a refund" does not ask for the
        order number again. The fan is told which value is used (`utter_reuse_<slot>`, when the domain
        has it), so one who meant another can correct it ("sorry, it's VT-100200"). A question that is
        asked each time (`ask_before_filling`: the order's email or postcode) is asked again."""
        assert step.slot is not None
        owner = None
        for f in reversed(ctx.stack):  # the task's own frame, or a frame that `call`ed this one
            if step.slot in (f.get("carried") or {}):
                owner = f
                break
            if f.get("kind") != "call":
                break
        if owner is None or step.ask_before_filling:
            return False
        value = owner["carried"].pop(step.slot)
        if not owner["carried"]:
            owner.pop("carried")
        if step.validate.normalise and isinstance(value, str):  # the other task may have checked it otherwise
            value = NORMALISERS[step.validate.normalise](value)
        if value is None:
            return False
        self._fill(ctx, frame, step, value)
        ctx.d.events.append(("flow.slot_reused", {"flow": flow.id, "slot": step.slot}))
        note = f"utter_reuse_{step.slot}"
        if note in self.domain.responses:
            self._say(ctx, note, flow=self._flow_name(ctx, flow, note))
        return True

    async def _run(self, ctx: _Ctx) -> None:
        """Run the top flow until it waits for the fan, ends, or hands over to a human."""
        while ctx.stack and not ctx.escalated:
            ctx.steps += 1
            if ctx.steps > MAX_STEPS_PER_TURN:
                ctx.d.events.append(("flow.runaway", {"flow": ctx.stack[-1]["flow"]}))
                ctx.stack.clear()
                self._say(ctx, "utter_apology")
                return
            frame = ctx.stack[-1]
            flow = self.flows.flows.get(frame["flow"])
            if flow is None:
                ctx.stack.pop()
                continue
            if frame["step"] == END:
                if self._finish(ctx, frame, flow):
                    return  # the flow below was paused on a question: it is asked again, the fan answers
                continue
            step = flow.step(frame["step"])
            ctx.d.action = f"flow:{flow.id}"
            if step.kind == "collect":
                assert step.slot is not None
                known = self._known(ctx, step.slot)
                if known is not _MISSING:
                    if step.slot not in frame["filled"]:  # the caller's answer (a `call`ed flow)
                        frame["filled"][step.slot] = known
                    frame["step"] = self._after(flow, step, ctx)
                    continue
                prefill = ctx.message_free and not step.ask_before_filling
                value = self._extract(step, ctx, answering=False) if prefill else None
                if value is not None:
                    self._fill(ctx, frame, step, value)
                    continue
                if self._reuse(ctx, frame, flow, step):
                    continue
                ctx.slots.pop(step.slot, None)
                self._ask(ctx, step, flow)
                frame.update(waiting=True, attempts=0, asked=True)
                return
            if step.kind == "action":
                assert step.action is not None
                if step.action.startswith("utter_"):
                    self._say(ctx, step.action)
                elif step.action == "action_record_csat":  # written by the pipeline with the turn
                    rating, ticket = ctx.slots.get("rating"), ctx.slots.get("ticket")
                    if rating is not None and ticket is not None:
                        ctx.d.csat = (int(ticket), int(rating))
                        ctx.d.action = "csat"
                elif not await self._custom(ctx, flow, step, frame):
                    return
            elif step.kind == "set_slots":
                for k, v in step.set_slots.items():
                    if v is None:  # cleared: a collect of it asks again
                        ctx.slots.pop(k, None)
                        frame["filled"].pop(k, None)
                        frame.setdefault("skipped", [])
                        frame["skipped"] = [x for x in frame["skipped"] if x != k]
                    else:
                        ctx.slots[k] = v
                        frame["filled"][k] = v
            elif step.kind == "call":
                frame["step"] = self._after(flow, step, ctx)
                ctx.stack.append(self._frame(str(step.flow), "call"))
                continue
            elif step.kind == "link":
                ctx.stack.pop()
                ctx.stack.append(self._frame(str(step.flow), frame["kind"]))
                continue
            elif step.kind == "escalate":
                self._escalate(ctx, flow, step)
                return
            frame["step"] = self._after(flow, step, ctx)

    def _after(self, flow: Flow, step: Step, ctx: _Ctx) -> Any:
        nxt = step.next
        if isinstance(nxt, list):
            for b in nxt:
                if b.condition is None or b.condition(ctx.slots):
                    return END if b.target == END else flow.by_id[b.target]
            return END
        if nxt is None or nxt == END:
            return END
        return flow.by_id[nxt]

    def _finish(self, ctx: _Ctx, frame: dict[str, Any], flow: Flow) -> bool:
        """Pop a finished flow; True when a paused flow below now waits for the fan again."""
        ctx.stack.pop()
        ctx.d.events.append(("flow.completed", {"flow": flow.id}))
        if frame["kind"] == "call" and ctx.stack:
            ctx.stack[-1]["filled"].update(frame["filled"])  # a called flow's answers belong to the caller
            return False
        collected = {s.slot for s in flow.collects()}
        if collected & set(frame["filled"]) and flow.id != "csat":
            ctx.st["last"] = {"flow": flow.id, "filled": dict(frame["filled"]), "age": 0}
        if ctx.stack:
            self._resume(ctx, back=True)
            return bool(ctx.stack[-1].get("waiting"))
        queued = ctx.st.pop("queued", None)
        if queued and not ctx.escalated:  # the second request of an earlier message: offer it now
            later = self.flows.for_intent(str(queued["intent"]))
            if later is not None:
                ctx.st["offer"] = queued
                ents = {e["entity"]: e["value"] for e in queued.get("entities") or [] if e.get("entity")}
                label = self._flow_name(ctx, later, "utter_offer_second")
                out = self.domain.render("utter_offer_second", {"flow": label}, language=ctx.turn.language)
                ctx.d.replies.append(Outgoing(text=out.text, language=out.language, buttons=(
                    Button(self._phrase(ctx, "button.yes_flow", flow=label),
                           f"/{queued['intent']}" + (_json(ents) if ents else "")),),
                    response="utter_offer_second"))
                return False
        if frame.get("asked") and ctx.d.replies and not ctx.d.replies[-1].buttons \
                and "utter_anything_else" in self.domain.responses:
            last = ctx.d.replies.pop()
            extra = self.domain.render("utter_anything_else", {}, language=ctx.turn.language,
                                       seed=str(ctx.turn.conversation_id))
            ctx.d.replies.append(dataclasses.replace(last, text=f"{last.text}\n\n{extra.text}"))
        return False

    def _resume(self, ctx: _Ctx, back: bool) -> None:
        """After a digression or an interrupting task: ask again what the paused flow waits for."""
        if not ctx.stack:
            return
        frame = ctx.stack[-1]
        flow = self.flows.flows.get(frame["flow"])
        if flow is None or frame["step"] == END:
            return
        step = flow.step(frame["step"])
        if step.kind == "collect" and frame.get("waiting"):
            # an interrupting task may have asked for the same slots ("where is my order?" at the refund's
            # proof question, with another order number): the paused task goes on with its own answers,
            # so its proof is checked against its own order
            ctx.slots.update(self._collected(ctx))
            self._ask(ctx, step, flow, back=back)

    def _ask(self, ctx: _Ctx, step: Step, flow: Flow, back: bool = False, intro: str | None = None) -> None:
        """Ask what `step` collects; `back`: after something else, "Back to your refund:" first; `intro`:
        a sentence to put before the question in the same message."""
        name = step.utter or f"utter_ask_{step.slot}"
        before = len(ctx.d.replies)
        out = self._say(ctx, name)
        if back and "utter_resume_flow" in self.domain.responses:
            resume = self.domain.render("utter_resume_flow", {"flow": self._flow_name(ctx, flow, "utter_resume_flow")},
                                        language=ctx.turn.language)
            ctx.d.replies[before] = out = dataclasses.replace(out, text=f"{resume.text} {out.text}")
        if intro:
            ctx.d.replies[before] = dataclasses.replace(out, text=f"{intro} {out.text}")
        if step.validate.kind == "choices" and not out.buttons:
            o = ctx.d.replies[before]
            ctx.d.replies[before] = dataclasses.replace(o, buttons=tuple(Button(t, t) for t, _ in step.validate.choices))

    @staticmethod
    def _known(ctx: _Ctx, slot: str) -> Any:
        """The slot's value in this task: answered in the top flow, or by the flows that `call`ed it."""
        for frame in reversed(ctx.stack):
            if slot in frame.get("skipped", ()):
                return None
            value = frame.get("filled", {}).get(slot)
            if value is not None:
                return value
            if frame.get("kind") != "call":
                break
        return _MISSING

    def _fill(self, ctx: _Ctx, frame: dict[str, Any], step: Step, value: Any) -> None:
        assert step.slot is not None
        if value is None:  # skipped: an optional slot the fan does not know
            frame.setdefault("skipped", []).append(step.slot)
            frame["filled"].pop(step.slot, None)
        else:
            frame["filled"][step.slot] = value
        carried = frame.get("carried")
        if carried and carried.pop(step.slot, None) is not None and not carried:
            frame.pop("carried")  # answered otherwise: a later question for it is not answered from before
        frame["waiting"] = False
        frame["attempts"] = 0
        if value is None:
            ctx.slots.pop(step.slot, None)
        else:
            ctx.slots[step.slot] = value

    def _cancel(self, ctx: _Ctx, say: bool) -> None:
        flow_id = ctx.stack[-1]["flow"] if ctx.stack else None
        self._drop_task(ctx)
        ctx.d.events.append(("flow.cancelled", {"flow": flow_id}))
        ctx.d.action = "flow_cancelled"
        if say:
            self._say(ctx, "utter_form_cancelled")
        self._resume(ctx, back=True)

    def _drop_task(self, ctx: _Ctx) -> None:
        """End the top task: its frame and the frames that called it (not a task it interrupted)."""
        while ctx.stack:
            frame = ctx.stack.pop()
            flow = self.flows.flows.get(frame["flow"])
            for s in flow.collects() if flow else []:
                ctx.slots.pop(s.slot or "", None)
            if frame["kind"] != "call":
                break

    def _note(self, ctx: _Ctx, flow: Flow, step: Step, frame: dict[str, Any], text: str) -> str:
        """Keep the fan's words about this task (`Flow.notes`) for the person it goes to; returns the
        sentence that tells the fan so, in their language."""
        notes = frame.setdefault("notes", [])
        if len(notes) < MAX_NOTES:
            notes.append(text.strip()[:NOTE_CHARS])
        ctx.d.events.append(("flow.noted", {"flow": flow.id, "slot": step.slot, "intent": ctx.parse.intent}))
        return self._phrase(ctx, "flow.noted", flow=self.domain.flow_name(flow.id, flow.name, ctx.turn.language))

    def _escalate(self, ctx: _Ctx, flow: Flow, step: Step) -> None:
        assert step.queue is not None
        filled = {k for f in ctx.stack for k in f.get("filled", {})}  # what this task collected, nothing older
        details = {k: v for k, v in ctx.slots.items() if v is not None and k in filled and k != "ticket"}
        others = self._other_requests(ctx, flow)
        extra: dict[str, Any] = {"also_asked": others} if others else {}
        notes = [n for f in ctx.stack for n in f.get("notes", [])]
        if notes:  # "because it arrived broken", said at a question of this task (`Flow.notes`)
            extra["fan_notes"] = notes
        ctx.d.escalate = EscalationRequest(step.queue, self._reason(ctx, flow=flow.id, **details, **extra),
                                           step.priority)
        ctx.d.action = f"escalate:{step.queue}"
        ctx.d.replies.append(Outgoing(text="", response=step.utter or "utter_handoff"))
        if others:  # the fan's other matter is not silently dropped: the person sees it, the fan is told
            labels = [str(o["label"]) for o in others]
            ctx.d.replies.append(Outgoing(text=self._phrase(ctx, "escalation.also_noted", request=", ".join(labels))))
            ctx.d.events.append(("nlu.second_request_noted", {"requests": [o["flow"] or o["intent"] for o in others]}))
        ctx.d.state["pending_values"] = {k: str(v) for k, v in details.items()}
        ctx.d.events.append(("flow.completed", {"flow": flow.id, "escalated": step.queue}))
        ctx.stack.clear()  # a human owns the conversation now: nothing is resumed behind their back
        ctx.escalated = True

    def _other_requests(self, ctx: _Ctx, flow: Flow) -> list[dict[str, Any]]:
        """What else the fan asked in the same breath that waits when `flow` hands over to a person: the
        first request of a message whose second one escalates, the second request queued from an earlier
        message, and the second request of this message. Each with a `label` in the fan's language (the
        flow's name, else their words). A task the fan left earlier for a person is not one: the
        transcript shows it."""
        found: list[tuple[str | None, str | None, str | None]] = []  # (flow id, intent, the fan's words)
        if ctx.paused_by_second is not None:
            found.append((ctx.paused_by_second, None, None))
            ctx.paused_by_second = None
        queued = ctx.st.pop("queued", None)
        if queued:
            later = self.flows.for_intent(str(queued["intent"]))
            found.append((later.id if later else None, str(queued["intent"]), queued.get("text")))
        if ctx.second is not None:
            later = self.flows.for_intent(ctx.second.intent, ctx.second.confidence)
            found.append((later.id if later else None, ctx.second.intent, ctx.second.text))
            ctx.second = None
        out: list[dict[str, Any]] = []
        for flow_id, intent, text in found:
            other = self.flows.flows.get(flow_id or "")
            if other is not None and (other.id == flow.id or any(o["flow"] == other.id for o in out)):
                continue
            if other is not None:
                label = self.domain.flow_name(other.id, other.name, ctx.turn.language)
            elif text:
                label = f"“{text.strip()}”"
            else:
                continue
            out.append({"flow": other.id if other else None, "intent": intent, "text": text, "label": label})
        return out

    async def _custom(self, ctx: _Ctx, flow: Flow, step: Step, frame: dict[str, Any]) -> bool:
        """Run a custom action; False when it failed (the fan got an apology, the task ended)."""
        p = ctx.parse
        call = ActionCall(name=str(step.action), sender_id=str(ctx.turn.conversation_id), slots=dict(ctx.slots),
                          text=ctx.turn.text, intent=p.intent, confidence=p.confidence, entities=list(p.entities),
                          ranking=list(p.ranking), language=ctx.turn.language, flow=flow.id,
                          display_name=ctx.turn.display_name)
        result = await self.actions.run(call)
        if not isinstance(result, ActionResult):
            result = ActionResult(error=f"action {step.action!r} returned {type(result).__name__}")
        if result.error:
            ctx.d.events.append(("action.failed", {"action": step.action, "flow": flow.id, "error": result.error}))
            self._drop_task(ctx)
            self._say(ctx, "utter_action_failed")
            ctx.d.action = f"flow:{flow.id}:action_failed"
            return False
        for k, v in result.slots.items():
            ctx.slots[k] = v
            frame["filled"][k] = v
        for r in result.responses:
            if r.get("response"):
                self._say(ctx, str(r["response"]), **dict(r.get("values") or {}))
            elif r.get("text"):
                buttons = tuple(Button(str(b.get("title", "")), str(b.get("payload", "")))
                                for b in r.get("buttons") or [] if isinstance(b, dict))
                ctx.d.replies.append(Outgoing(text=str(r["text"]), buttons=buttons))
        return True

    # -- slot values -----------------------------------------------------------------------------------
    def _extract(self, step: Step, ctx: _Ctx, *, answering: bool, strict: bool = False) -> Any:
        """The value for `step` in this message, or None. `answering`: the message replies to the
        question (free text counts); otherwise only values the message clearly carries do."""
        v = step.validate
        p = ctx.parse
        text = (p.text if p.encoder is not None and p.text else ctx.turn.text).strip()  # this request's part
        value: Any = None
        if v.kind == "entity":
            value = self._entity(p, v.entity or "")
            if value is None and v.normalise:
                value = NORMALISERS[v.normalise](text)
        elif v.kind == "regex":
            assert v.pattern is not None
            m = v.pattern.search(text)
            if m:
                value = m.group(1) if m.groups() and m.group(1) is not None else m.group(0)
        elif v.kind == "lookup":
            value = _lookup(text, v.values)
        elif v.kind == "choices":
            for title, val in v.choices:
                if text.lower() == title.lower() or text.lower() == str(val).lower():
                    value = val
                    break
            if value is None and answering:
                value = _choice_by_word(text, v.choices)
        else:
            words = len(text.split())
            if not answering:
                if step.prefill_min_words is not None and words >= step.prefill_min_words:
                    value = text
            elif not strict and words >= v.min_words and not text.startswith("/"):
                value = text
        if value is not None and v.normalise and isinstance(value, str):
            value = NORMALISERS[v.normalise](value)
        return value

    # -- a new message -------------------------------------------------------------------------------
    def _two_requests(self, ctx: _Ctx) -> ParseResult | None:
        """Two requests in one message ("where is VT-482913 and can I pay with klarna?"), as the NLU read
        them (`ParseResult.requests`, each half on its own): `ctx.parse` becomes the first's reading and
        the second's is returned; None (and `ctx.parse` as it was) when the message holds one request,
        or two that read alike. A button payload (no encoder) is one request."""
        if ctx.requests is _MISSING:  # once per message: a reply that turns out to be a new message keeps them
            ctx.requests = None
            parts = ctx.parse.requests if ctx.parse.encoder else []
            if len(parts) == 2 and _distinct(parts[0], parts[1], self.confident):
                ctx.requests = (parts[0], parts[1])
        if not isinstance(ctx.requests, tuple):
            return None
        first, second = ctx.requests
        ctx.parse = first
        ctx.d.events.append(("nlu.two_requests", {"first": first.intent, "second": second.intent}))
        return second

    async def _new_message(self, ctx: _Ctx) -> None:
        second = self._two_requests(ctx)
        if self._correct_last(ctx) or self._follow_up_last(ctx):
            await self._run(ctx)
            return
        ctx.second = second  # if the first request goes to a person, the second is noted for them
        await self._by_intent(ctx)
        ctx.second = None
        if second is not None and not ctx.escalated:
            await self._second_request(ctx, second)

    async def _second_request(self, ctx: _Ctx, parse: ParseResult) -> None:
        """Two requests in one message: a question is answered too; a task is offered with a button."""
        if parse.intent == "faq" or (parse.intent not in self.flows.trigger_intents() and is_question(parse.text)):
            sub = _Ctx(parse, Turn(ctx.turn.conversation_id, parse.text, ctx.turn.display_name, ctx.turn.language),
                       ctx.d, message_free=False)
            if self._answer_from_kb(sub, self.kb_threshold):
                return
        flow = self.flows.for_intent(parse.intent, parse.confidence)
        if flow is not None and ctx.stack and ctx.stack[-1].get("waiting") \
                and not any(f["flow"] == flow.id for f in ctx.stack):
            # the first request waits for an answer: do the second now when it needs no questions
            # ("where is VT-555123"), then "Back to your ..." asks again; otherwise first things first
            snapshot = (copy.deepcopy(ctx.d.state), list(ctx.d.replies), list(ctx.d.events), ctx.d.action)
            if ctx.d.replies and ctx.d.replies[-1].response:
                ctx.d.replies.pop()
            first, ctx.parse, ctx.message_free = ctx.parse, parse, True
            ctx.stack.append(self._frame(flow.id, "interrupt"))
            ctx.d.events.append(("flow.interrupted", {"flow": ctx.stack[-2]["flow"], "by": flow.id}))
            ctx.paused_by_second = str(ctx.stack[-2]["flow"])
            await self._run(ctx)
            ctx.paused_by_second = None
            if ctx.escalated or not any(f["flow"] == flow.id for f in ctx.stack):
                if ctx.stack and not ctx.stack[-1].get("waiting"):
                    self._resume(ctx, back=True)
                return
            ctx.d.state, ctx.d.replies, ctx.d.events, ctx.d.action = snapshot
            ctx.parse = first
            ctx.st["queued"] = {"intent": parse.intent, "entities": list(parse.entities), "text": parse.text}
            ctx.d.events.append(("nlu.second_request_pending", {"intent": parse.intent}))
            return
        if flow is not None and not ctx.stack:
            ctx.st["offer"] = {"intent": parse.intent, "entities": list(parse.entities)}
            ents = {e["entity"]: e["value"] for e in parse.entities if e.get("entity")}
            payload = f"/{parse.intent}" + (_json(ents) if ents else "")
            label = self._flow_name(ctx, flow, "utter_offer_second")
            out = self.domain.render("utter_offer_second", {"flow": label}, language=ctx.turn.language)
            ctx.d.replies.append(Outgoing(text=out.text, buttons=(
                Button(self._phrase(ctx, "button.yes_flow", flow=label), payload),),
                                          response="utter_offer_second", language=out.language))
        elif flow is not None:
            ctx.d.events.append(("nlu.second_request_pending", {"intent": parse.intent}))

    def _correct_last(self, ctx: _Ctx) -> bool:
        """'sorry, it's VT-100200' right after a finished task: redo it with the corrected value."""
        last = ctx.st.get("last")
        if not last or not is_correction(ctx.turn.text):
            return False
        flow = self.flows.flows.get(str(last.get("flow")))
        if flow is None:
            return False
        for s in flow.collects():
            if s.slot in last["filled"]:
                value = self._extract(s, ctx, answering=True, strict=True)
                if value is not None and value != last["filled"][s.slot]:
                    frame = self._frame(flow.id, "root")
                    frame["filled"] = {k: v for k, v in last["filled"].items()
                                       if k in {c.slot for c in flow.collects()}}
                    frame["filled"][s.slot] = value
                    frame["asked"] = True
                    for k, v in frame["filled"].items():
                        ctx.slots[k] = v
                    ctx.st.pop("last", None)
                    ctx.stack.append(frame)
                    ctx.message_free = False
                    ctx.d.events.append(("flow.corrected", {"flow": flow.id, "slot": s.slot}))
                    return True
        return False

    def _follow_up_last(self, ctx: _Ctx) -> bool:
        """'when will it arrive?' right after the order's status: the same order, asked after again, not
        the shipping-times article. A task that only looks something up (no hand-over) is run again with
        what it was given, when the message reads as that task, is short, and brings no value of its own
        nor names another one ("and my other order?")."""
        last = ctx.st.get("last")
        p = ctx.parse
        if not last or p.fallback or p.encoder is None or len(p.text.split()) > 8 or _OTHER_ONE.search(p.text):
            return False
        flow = self.flows.flows.get(str(last.get("flow")))
        if (flow is None or self.flows.for_intent(p.intent, p.confidence) is not flow or p.confidence < self.confident
                or _hands_over(flow)):
            return False
        slots = {s.slot for s in flow.collects()}
        if not slots & set(last.get("filled") or {}) or any(self._extract(s, ctx, answering=True, strict=True)
                                                              is not None for s in flow.collects()):
            return False
        frame = self._frame(flow.id, "root")
        frame["filled"] = {k: v for k, v in last["filled"].items() if k in slots}
        frame["asked"] = True
        ctx.slots.update(frame["filled"])
        ctx.st.pop("last", None)
        ctx.stack.append(frame)
        ctx.message_free = False
        ctx.d.events.append(("flow.followed_up", {"flow": flow.id}))
        ctx.d.action = f"flow:{flow.id}"
        return True

    def _age_last(self, ctx: _Ctx) -> None:
        last = ctx.st.get("last")
        if last is not None:
            last["age"] = int(last.get("age", 0)) + 1
            if last["age"] > CORRECTION_TURNS:
                ctx.st.pop("last", None)

    async def _start_by_intent(self, ctx: _Ctx, intent: str, offered: bool = False) -> Decision:
        flow = self.flows.for_intent(intent)
        if flow is None:
            self._say(ctx, "utter_default")
            return ctx.d
        ctx.message_free = offered  # an offer's values (kept from the first message) fill its collects
        ctx.stack.append(self._frame(flow.id, "root"))
        await self._run(ctx)
        return ctx.d

    async def _by_intent(self, ctx: _Ctx) -> None:
        if is_acknowledgement(ctx.turn.text) and "utter_anything_else" in self.domain.responses:
            # "ok" after an answer or a greeting: the classifier has no intent for it and reads it as
            # a greeting, out of scope ("Ok": a fallback), thanks ("vale") or goodbye ("d'accord").
            # Whatever it read, the fan heard us (dialogs/acknowledgements.py): "anything else?"
            ctx.d.events.append(("nlu.acknowledgement", {"was": ctx.parse.intent, "fallback": ctx.parse.fallback}))
            ctx.st["fallbacks"] = 0
            ctx.d.action = "acknowledgement"
            self._say(ctx, "utter_anything_else")
            return
        if asks_for_help(ctx.turn.text) and "utter_help" in self.domain.responses:
            # "help", Telegram's /help, "can you help me?": what the assistant does, with buttons for the
            # common tasks, not "Sorry, I didn't get that" (read as a fallback) or "You're welcome" (thanks)
            ctx.d.events.append(("nlu.help", {"was": ctx.parse.intent}))
            ctx.st["fallbacks"] = 0
            ctx.d.action = "help"
            self._say(ctx, "utter_help")
            return
        torn = self._torn_between_tasks(ctx.parse)
        if torn is not None:
            ctx.d.events.append(("nlu.torn", {"intents": [i for i, _ in ctx.parse.ranking[:2]]}))
            ctx.parse = dataclasses.replace(ctx.parse, intent=torn, fallback=False)
        if (ctx.parse.fallback or ctx.parse.intent == "out_of_scope") and is_greeting(ctx.turn.text):
            # "Cześć!" (greet 0.42 when the Polish greetings are few in the data): one greeting word alone
            # (nlu.language.GREETINGS, in the brand's languages) opens a conversation however unsure the reading
            ctx.d.events.append(("nlu.lone_greeting", {"was": ctx.parse.intent}))
            ctx.parse = dataclasses.replace(ctx.parse, intent="greet", fallback=False)
        complaint = self.flows.for_intent("complaint")
        if (complaint is not None and ctx.parse.fallback and ctx.parse.ranking and ctx.parse.ranking[0][0] == "complaint"
                and upset(ctx.turn.text)):
            # "أنا مستاء جداً من خدمتكم" (complaint 0.51, under the cross-validated bar): a fan who says they are
            # upset gets the complaint's "tell me more", never "Sorry, I didn't get that"
            await self._start_instead(ctx, complaint, "nlu.upset_fallback",
                                      {"confidence": round(ctx.parse.confidence, 3)}, intent="complaint", fallback=False)
            return
        st, parse = ctx.st, ctx.parse
        intent = parse.intent
        ctx.d.action = intent
        unsure_silence = intent in SILENT_INTENTS and parse.confidence < self.confident
        if parse.fallback or intent == "out_of_scope" or unsure_silence:
            # Silence is only for messages we are sure are spam/abuse; a fan we misread gets an answer.
            self._fallback(ctx)
            return
        st["fallbacks"] = 0
        if intent in SILENT_INTENTS and not re.search(r"\w", ctx.turn.text):
            # "😡😡😡" is a fan telling us something is wrong, not spam: ask what happened
            self._say(ctx, "utter_ask_what_happened")
            ctx.d.action = "ask_what_happened"
            return
        if intent in SILENT_INTENTS:
            ctx.d.events.append(("moderation.flagged", {"intent": intent, "confidence": round(parse.confidence, 3)}))
            ctx.d.action = "silent"
            return
        complaint = self.flows.for_intent("complaint") if intent in SARCASTIC else None
        if complaint is not None and upset(ctx.turn.text):
            # "thanks for the worst service ever", "jestem bardzo rozczarowany waszą obsługą" read as thanks:
            # a fan who says they are upset is not thanking us, whatever the classifier read
            await self._start_instead(ctx, complaint, "nlu.upset_not_" + intent,
                                      {"confidence": round(parse.confidence, 3)}, intent="complaint")
            return
        order = self._where_not_complaint(ctx)
        if order is not None:
            await self._start_instead(ctx, order, "nlu.where_not_complaint", {"confidence": round(parse.confidence, 3)},
                                      intent=parse.ranking[1][0], confidence=parse.ranking[1][1])
            return
        person = self._person_asked(ctx)
        if person is not None:
            await self._start_instead(ctx, person, "nlu.asks_for_person", {"was": intent},
                                      intent="human_handoff", fallback=False)
            return
        product = self._product_only(ctx)
        if product is not None:
            # "the buds pro", "nova x": a product named and nothing else (read as praise 0.97): what about it?
            ctx.d.events.append(("nlu.product_only", {"was": intent}))
            ctx.d.action = "ask_product"
            self._say(ctx, "utter_ask_product", product=product)
            return
        refund = self._refund_not_status(ctx)
        if refund is not None:
            await self._start_instead(ctx, refund, "nlu.refund_not_status",
                                      {"was": intent, "confidence": round(parse.confidence, 3)}, intent="refund_request")
            return
        complaint = self._problem_not_status(ctx)
        if complaint is not None:
            await self._start_instead(ctx, complaint, "nlu.problem_not_status",
                                      {"was": intent, "confidence": round(parse.confidence, 3)}, intent="complaint")
            return
        if intent in SIMPLE:
            self._say(ctx, SIMPLE[intent])
            return
        if intent == "faq":
            article = self._entity(parse, "article")
            if article and self._answer_article(ctx, article):
                return
            if not self._answer_from_kb(ctx, self.kb_threshold):
                self._say(ctx, "utter_faq_unsure")
                ctx.d.events.append(("faq.unanswered", {}))
            return
        flow = self.flows.for_intent(intent, parse.confidence)
        if flow is None and self.flows.for_intent(intent) is not None:  # below the trigger's own threshold
            # a safety report under its bar is asked about, not handed to the runner-up (crisis 0.76,
            # complaint 0.24: "mijn dochtertje heeft een oordopje ingeslikt" became a complaint, then a
            # choice between the return-policy article and the complaint)
            flow = None if intent == URGENT_INTENT and parse.confidence >= _confirm_floor(intent) else self._runner_up(ctx)
            if flow is None:
                if not self._confirm_task(ctx, intent):
                    self._fallback(ctx)
                return
        if flow is not None:
            if self._arbitrate(ctx, flow) or self._clarify_tasks(ctx, flow):
                return
            ctx.stack.append(self._new_task(ctx, flow.id))
            await self._run(ctx)
            return
        if f"utter_{intent}" in self.domain.responses:  # an intent answered by its own response (Rasa rules)
            self._say(ctx, f"utter_{intent}")
        else:
            self._say(ctx, "utter_default")

    async def _start_instead(self, ctx: _Ctx, flow: Flow, event: str, data: dict[str, Any], **reading: Any) -> None:
        """Start `flow` for a message the NLU read otherwise, noting why (`event`) and the reading it gets."""
        ctx.d.events.append((event, data))
        ctx.parse = dataclasses.replace(ctx.parse, **reading)
        ctx.stack.append(self._new_task(ctx, flow.id))
        await self._run(ctx)

    def _read_as_lookup(self, ctx: _Ctx, instead: Flow | None) -> bool:
        """The message reads as a task that only looks the order up (it collects the order number and hands
        nothing over, unlike the refund), and `instead` is another task to start in its place."""
        p = ctx.parse
        flow = self.flows.for_intent(p.intent)
        return (instead is not None and flow is not None and flow is not instead and not p.fallback
                and _collects_order(flow) and not _hands_over(flow))

    def _where_not_complaint(self, ctx: _Ctx) -> Flow | None:
        """'waar blijft verdomme mijn bestelling, ik wacht al twee weken, dit is belachelijk' read as a
        complaint (0.55) over the order task (0.45): the fan asks where their order is, and finding it is
        the help asked for; the order task, not a ticket about how they feel. Only with the order task
        as a reading of its own (RUNNER_UP) and the question asked outright (`asks_where_own`)."""
        p = ctx.parse
        if p.intent != "complaint" or p.fallback or len(p.ranking) < 2 or p.ranking[1][1] < RUNNER_UP:
            return None
        flow = self.flows.for_intent(p.ranking[1][0])
        if flow is None or not _collects_order(flow) or not asks_where_own(ctx.turn.text):
            return None
        return flow

    def _person_asked(self, ctx: _Ctx) -> Flow | None:
        """The hand-over to a person when the fan asks for one in so many words, whatever the NLU read
        ("I want to speak to someone about my order VT-482913": the order task 0.97); a sure urgent
        report keeps its own, more urgent, hand-over."""
        flow = self.flows.for_intent("human_handoff")
        # this request's own words: "where is my order and can I talk to a person" is two requests
        if flow is None or not asks_for_person(ctx.parse.text or ctx.turn.text) or ctx.parse.intent == URGENT_INTENT:
            return None
        return flow

    def _product_only(self, ctx: _Ctx) -> str | None:
        """The product's name when the message names one and says nothing else ("the buds pro", "Nova X?")."""
        p = ctx.parse
        if "utter_ask_product" not in self.domain.responses or p.encoder is None:
            return None
        spans = [e for e in p.entities if e.get("entity") == "product" and isinstance(e.get("start"), int)]
        if len(spans) != 1 or p.text != ctx.turn.text:
            return None
        e = spans[0]
        rest = ctx.turn.text[:e["start"]] + " " + ctx.turn.text[e["end"]:]
        return str(e["value"]) if all(w.lower() in _PRODUCT_FILLER for w in _WORD.findall(rest)) else None

    def _refund_not_status(self, ctx: _Ctx) -> Flow | None:
        """'wo bleibt meine Erstattung?' read as the order task (0.998): the order's status says nothing
        about the money. The refund task (a person checks it), for a task that only looks the order up."""
        refund = self.flows.for_intent("refund_request")
        return refund if self._read_as_lookup(ctx, refund) and asks_after_refund(ctx.turn.text) else None

    def _problem_not_status(self, ctx: _Ctx) -> Flow | None:
        """'my order arrived damaged' read as the order task (0.69, complaint 0.30): the order has come and
        something is wrong with it; its status helps nobody. The complaint (a ticket for a person), for a
        task that only looks the order up (no hand-over of its own, unlike the refund), unless the fan also
        asks where it is ("the wrong item came, where is the rest of my order?")."""
        complaint = self.flows.for_intent("complaint")
        text = ctx.turn.text
        if not self._read_as_lookup(ctx, complaint):
            return None
        return complaint if reports_problem(text) and not asks_where_own(text) and not is_question(text) else None

    def _arbitrate(self, ctx: _Ctx, flow: Flow) -> bool:
        """FAQ or task (dialogs/arbitration.py): True when the knowledge base answered or we asked."""
        p = ctx.parse
        transactional = any(s.kind in ("collect", "escalate") for s in flow.steps)
        if not transactional or p.encoder is None or self.kb is None or flow.id in ("crisis", "human_handoff"):
            return False
        match = self._kb_best(ctx)
        has_entity = any(e.get("entity") == "order_number" for e in p.entities)
        tags = bool(match and set(flow.kb_tags) & set(match.article.tags))
        verdict = ctx.verdict = arbitrate(text=ctx.turn.text, intent_confidence=p.confidence,
                            kb_score=match.score if match else None, has_task_entity=has_entity, kb_tags_match=tags)
        ctx.d.events.append(("flow.arbitration", {"flow": flow.id, "choice": verdict.choice, "reason": verdict.reason,
                                                  "kb_score": round(match.score, 3) if match else None}))
        if verdict.choice == "task" or match is None:
            return False
        if verdict.choice == "faq":
            self._kb_reply(ctx, match)
            ctx.d.action = "faq"
            return True
        label = self._flow_name(ctx, flow, "utter_clarify")
        out = self.domain.render("utter_clarify", {"article": match.article.title, "flow": label},
                                 language=ctx.turn.language)
        trigger = flow.triggers[0].intent if flow.triggers else flow.id
        ents = {e["entity"]: e["value"] for e in p.entities if e.get("entity")}
        buttons = (Button(match.article.title, f'/faq{_json({"article": match.article.id})}'),
                   Button(self._phrase(ctx, "button.help_with_flow", flow=label),
                          f"/{trigger}" + (_json(ents) if ents else "")))
        ctx.d.replies.append(Outgoing(text=out.text, buttons=buttons, response="utter_clarify", language=out.language))
        ctx.d.action = "clarify"
        ctx.d.events.append(("flow.clarify", {"flow": flow.id, "article": match.article.id}))
        return True

    def _torn_between_tasks(self, p: ParseResult) -> str | None:
        """Too unsure to be understood, yet torn between two of the brand's tasks ("a driver threw my
        parcel over the fence": crisis 0.51, complaint 0.46): not out of scope. The top reading goes on,
        and the usual rules pick between the two (a trigger's own threshold, then the runner-up; or
        "is this about your X or your Y?"). Anything spread wider, or not about tasks, stays a fallback."""
        if not p.fallback or p.encoder is None or len(p.ranking) < 2:
            return None
        (first, c1), (second, c2) = p.ranking[0], p.ranking[1]
        if c2 < TORN_SECOND or c1 + c2 < TORN_MASS:
            return None
        if self.flows.for_intent(first) is None or self.flows.for_intent(second) is None:
            return None
        return first

    def _runner_up(self, ctx: _Ctx) -> Flow | None:
        """The top intent's flow wants more confidence (a crisis at 0.48): the next task that is sure enough."""
        for intent, conf in ctx.parse.ranking[1:3]:
            flow = self.flows.for_intent(intent, conf)
            if flow is not None and conf >= RUNNER_UP:
                ctx.d.events.append(("flow.runner_up", {"intent": intent, "confidence": round(conf, 3)}))
                return flow
        return None

    def _confirm_task(self, ctx: _Ctx, intent: str) -> bool:
        """Understood, but below the flow's own bar, with no other task near ("ładowarka zaczęła dymić":
        crisis 0.88 against the urgent report's 0.9): ask "is this about your urgent report?" with a
        button, rather than "I didn't get that". A yes (the button, or typed: "tak", "sí") starts it."""
        p = ctx.parse
        flow = self.flows.for_intent(intent)
        if p.fallback or p.encoder is None or flow is None or p.confidence < _confirm_floor(intent):
            return False
        if intent == URGENT_INTENT and len(_WORD.findall(ctx.turn.text)) < 3:
            return False  # "battery", "charger" alone (crisis 0.66 / 0.90) are topics, not an urgent report
        label = self._flow_name(ctx, flow, "utter_confirm_task")
        out = self.domain.render("utter_confirm_task", {"flow": label}, language=ctx.turn.language)
        ents = {e["entity"]: e["value"] for e in p.entities if e.get("entity")}
        ctx.st["offer"] = {"intent": intent, "entities": list(p.entities)}
        ctx.d.replies.append(Outgoing(text=out.text, response="utter_confirm_task", language=out.language, buttons=(
            Button(self._phrase(ctx, "button.yes_flow", flow=label), f"/{intent}" + (_json(ents) if ents else "")),)))
        ctx.d.action = "confirm"
        ctx.d.events.append(("flow.confirm", {"flow": flow.id, "confidence": round(p.confidence, 3)}))
        return True

    def _clarify_tasks(self, ctx: _Ctx, flow: Flow) -> bool:
        """Two tasks read almost equally well ('my order never came, I want my money back'?): ask which."""
        p = ctx.parse
        if p.encoder is None or len(p.ranking) < 2 or p.confidence >= CLARIFY_BELOW:
            return False
        if ctx.verdict is not None and ctx.verdict.choice == "task" and not ctx.verdict.reason.startswith("no article"):
            return False  # the arbitration saw a task cue (an order number, a wish, a late order): no second guess
        second, conf2 = p.ranking[1]
        other = self.flows.for_intent(second, conf2)
        if other is None or other.id == flow.id or p.confidence - conf2 > CLARIFY_MARGIN:
            return False
        ents = {e["entity"]: e["value"] for e in p.entities if e.get("entity")}
        tail = _json(ents) if ents else ""
        options = [(flow, p.intent), (other, second)]
        names = [self._flow_name(ctx, f, "utter_clarify_tasks") for f, _ in options]
        out = self.domain.render("utter_clarify_tasks", {"first": names[0], "second": names[1]},
                                 language=ctx.turn.language)
        buttons = tuple(Button(n[:1].upper() + n[1:], f"/{i}{tail}") for n, (_, i) in zip(names, options, strict=True))
        ctx.d.replies.append(Outgoing(text=out.text, buttons=buttons, response="utter_clarify_tasks",
                                      language=out.language))
        ctx.d.action = "clarify"
        ctx.d.events.append(("flow.clarify", {"flows": [flow.id, other.id]}))
        return True

    def _fallback(self, ctx: _Ctx) -> None:
        st, parse = ctx.st, ctx.parse
        # A confident knowledge-base match beats "I didn't understand".
        if parse.text and self._answer_from_kb(ctx, self.kb_threshold + 0.05):
            st["fallbacks"] = 0
            ctx.d.action = "faq"
            return
        st["fallbacks"] = int(st.get("fallbacks", 0)) + 1
        ctx.d.events.append(("nlu.fallback", {"confidence": round(parse.confidence, 3),
                                              "candidate": parse.ranking[0][0] if parse.ranking else None}))
        if st["fallbacks"] >= self.max_fallbacks:
            st["fallbacks"] = 0
            self._say(ctx, "utter_offer_human")
            ctx.d.action = "offer_human"
        elif not ctx.turn.text.strip():
            self._say(ctx, "utter_empty_message")
        elif parse.fallback or parse.intent != "out_of_scope":
            # "battery" alone, read as a crisis too unsure to confirm: not understood, never "I can only
            # help with Voltora products" (that is for messages read as out of scope)
            self._say(ctx, "utter_default")
            ctx.d.action = "fallback"
        else:
            self._say(ctx, "utter_out_of_scope")
            ctx.d.action = "out_of_scope"

    # -- knowledge base --------------------------------------------------------------------------------
    def _kb_best(self, ctx: _Ctx) -> Any:
        p = ctx.parse
        if self.kb is None or not p.text or p.text.startswith("/"):
            return None
        emb = p.embedding if p.encoder else None
        matches = self.kb.search(p.text, encoder=p.encoder or "e5", embedding=emb,
                                 language=ctx.turn.language or p.language)
        return matches[0] if matches else None

    def _answer_from_kb(self, ctx: _Ctx, threshold: float) -> bool:
        best = self._kb_best(ctx)
        if best is None or best.score < threshold:
            return False
        self._kb_reply(ctx, best)
        return True

    def answer_from_kb(self, parse: ParseResult, turn: Turn, threshold: float) -> tuple[Outgoing, dict[str, Any]] | None:
        """The knowledge-base answer to a message outside any flow (e.g. while a ticket waits for a
        person): the reply and its `faq.answered` event data, or None below `threshold`."""
        ctx = _Ctx(parse, turn, Decision())
        if not self._answer_from_kb(ctx, threshold):
            return None
        return ctx.d.replies[-1], next(data for kind, data in ctx.d.events if kind == "faq.answered")

    def _kb_reply(self, ctx: _Ctx, best: Any) -> None:
        article = self._localise(ctx, best.article)
        self._say(ctx, "utter_faq_answer", answer=article.summary(self.answer_chars), article=article.title)
        ctx.d.events.append(("faq.answered", {"article": article.id, "score": round(best.score, 3)}))
        ctx.st["answered"] = article.id  # "still doesn't work" next: see _unhelped

    def _localise(self, ctx: _Ctx, article: Any) -> Any:
        """The article in the fan's language by the fallback order, noting in debug when it is not."""
        if self.kb is not None and hasattr(self.kb, "in_language"):
            article = self.kb.in_language(article, ctx.turn.language)
        lang = ctx.turn.language
        if lang and lang != "und" and article.language != lang:
            ctx.d.note_language(f"article {article.group}: no {lang} translation, answered in {article.language}")
        return article

    def _answer_article(self, ctx: _Ctx, article_id: str) -> bool:
        """A clarification button named the article: answer it directly."""
        if self.kb is None:
            return False
        self.kb.reload_if_changed()
        for a in getattr(self.kb, "articles", []):
            if a.id == article_id:
                a = self._localise(ctx, a)
                self._say(ctx, "utter_faq_answer", answer=a.summary(self.answer_chars), article=a.title)
                ctx.d.events.append(("faq.answered", {"article": a.id, "score": 1.0}))
                ctx.d.action = "faq"
                return True
        return False

    # -- escalation replies ------------------------------------------------------------------------------
    def render_escalated(self, d: Decision, turn: Turn, ticket: int) -> None:
        """Fill the ticket number into replies that were waiting for it."""
        values = dict(d.state.pop("pending_values", {}) or {})
        values.update(ticket=ticket, name=turn.display_name or "there")
        out = []
        for r in d.replies:
            if r.text == "" and r.response:
                out.append(self.domain.render(r.response, values, language=turn.language,
                                              seed=f"{turn.conversation_id}:{ticket}"))
            else:
                out.append(r)
        d.replies = out


def _lookup(text: str, values: tuple[str, ...]) -> str | None:
    low = text.lower()
    for v in sorted(values, key=len, reverse=True):
        if re.search(r"(?<!\w)" + re.escape(v.lower()) + r"(?!\w)", low):
            return v
    words = re.findall(r"\w+", low)
    grams = words + [" ".join(words[i:i + 2]) for i in range(len(words) - 1)]
    best = difflib.get_close_matches(low.strip(), [v.lower() for v in values], n=1, cutoff=0.8)
    if not best:
        for g in grams:
            best = difflib.get_close_matches(g, [v.lower() for v in values], n=1, cutoff=0.85)
            if best:
                break
    if best:
        return next(v for v in values if v.lower() == best[0])
    return None


def _choice_by_word(text: str, choices: tuple[tuple[str, Any], ...]) -> Any:
    hit = _lookup(text, tuple(t for t, _ in choices))
    if hit is None:
        return None
    return next(v for t, v in choices if t == hit)


def _confirm_floor(intent: str) -> float:
    """How sure a reading under its flow's own bar must be to be asked about (`_confirm_task`)."""
    return URGENT_ASK if intent == URGENT_INTENT else CONFIRM_FROM


_WORD = re.compile(r"\w+")
#: words around a product's name that add nothing ("the buds pro", "my Nova X", "la pulse 3")
_PRODUCT_FILLER = frozenset("the my your a an voltora el la los las mi mis der die das mein meine le les mon ma "
                            "il lo i o os as meu minha de het mijn moje mój".split())
#: "my other order", "otro pedido", "meine andere Bestellung": not the one just looked up
_OTHER_ONE = re.compile(r"(?<!\w)(?:other|another|second|different|otr[oa]s?|andere\w*|autres?|altr[oa]|outr[oa]|"
                        r"ander\w*|inn\w*|diğer|başka|друг\w*|آخر|أخرى|दूसर\S*)(?!\w)", re.IGNORECASE)


def _hands_over(flow: Flow) -> bool:
    """The flow ends with a person (an `escalate` step): nothing to look up again or carry from it."""
    return any(s.kind == "escalate" for s in flow.steps)


def _one_word(text: str) -> bool:
    """One word and no question mark: a reply, not a new request ("abc", "12345", "Hilfe" but not "refund?")."""
    return len(re.findall(r"\w+", text)) <= 1 and "?" not in text and "¿" not in text


def _carries_data(text: str) -> bool:
    """A digit or an "@": what an email, a postcode or a number typed as an answer is made of (every
    postcode format of the brand's countries has a digit), never a plain request or question."""
    return "@" in text or any(c.isdigit() for c in text)


def _numeric(text: str) -> bool:
    """Digits and punctuation only: an attempt at a number, never small talk."""
    return any(c.isdigit() for c in text) and not any(c.isalpha() for c in text)


def _distinct(a: ParseResult, b: ParseResult, confident: float) -> bool:
    ok = not a.fallback and not b.fallback and min(a.confidence, b.confidence) >= confident * 0.8
    return ok and a.intent != b.intent and a.intent not in SILENT_INTENTS and b.intent not in SILENT_INTENTS


def _json(d: dict[str, Any]) -> str:
    import json

    return json.dumps(d, ensure_ascii=False)
