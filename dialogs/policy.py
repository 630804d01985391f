"""The dialog policy: from (NLU result, conversation state) to replies, state and escalations.

Pure decision logic: it reads the knowledge base and the order lookup port but writes nothing;
the pipeline persists what it returns. Flows:

    greet/goodbye/thanks/praise -> a response
    faq            -> knowledge-base answer naming its article, or "not sure" + offer a human
    order_status   -> form(order_number) -> lookup -> status
    refund_request -> form(order_number) -> lookup -> escalate (queue refunds)
    complaint      -> form(details, skipped when the message already explains) -> escalate
    human_handoff  -> escalate; crisis -> urgent escalation + holding reply
    spam/abuse     -> no reply, flagged for moderation
    out_of_scope / low confidence -> knowledge base if it is sure, else rephrase;
                     after `max_fallbacks` misunderstandings in a row, offer a human
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.orders import OrderLookup, normalise_order_number
from dialogs.domain import Domain, Outgoing
from knowledge_base import KnowledgeBase
from nlu.model import ParseResult

CANCEL = re.compile(r"^\s*(/cancel|cancel|stop|never ?mind|forget it|quit|exit|cancelar|annuler|abbrechen)\W*$",
                    re.IGNORECASE)
SILENT_INTENTS = {"spam", "abuse"}
SIMPLE = {"greet": "utter_greet", "goodbye": "utter_goodbye", "thanks": "utter_thanks", "praise": "utter_praise"}


@dataclass(frozen=True)
class EscalationRequest:
    queue: str
    reason: dict[str, Any]


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


class DialogPolicy:
    def __init__(self, domain: Domain, kb: KnowledgeBase | None, orders: OrderLookup, *,
                 kb_threshold: float = 0.62, answer_chars: int = 700, max_fallbacks: int = 2,
                 form_max_attempts: int = 2, confident: float = 0.7) -> None:
        self.domain = domain
        self.kb = kb
        self.orders = orders
        self.kb_threshold = kb_threshold
        self.answer_chars = answer_chars
        self.max_fallbacks = max_fallbacks
        self.form_max_attempts = form_max_attempts
        self.confident = confident

    # -- helpers --------------------------------------------------------------------------------
    def _say(self, d: Decision, turn: Turn, name: str, **values: Any) -> None:
        values.setdefault("name", turn.display_name or "there")
        seed = f"{turn.conversation_id}:{len(d.replies)}:{turn.text}"
        lang = turn.language
        d.replies.append(self.domain.render(name, values, language=lang, seed=seed))

    @staticmethod
    def _entity(parse: ParseResult, name: str) -> str | None:
        for e in parse.entities:
            if e.get("entity") == name:
                return str(e.get("value"))
        return None

    def _reason(self, parse: ParseResult, turn: Turn, **extra: Any) -> dict[str, Any]:
        return {"intent": parse.intent, "confidence": round(parse.confidence, 3), "language": parse.language,
                **extra}

    # -- entry ----------------------------------------------------------------------------------
    def decide(self, parse: ParseResult, state: dict[str, Any], turn: Turn) -> Decision:
        d = Decision(state=dict(state or {}))
        st = d.state
        st.setdefault("slots", {})

        if st.get("awaiting_csat"):
            esc_id = int(st.pop("awaiting_csat"))
            rating = self._entity(parse, "rating") if parse.intent == "csat" else None
            if rating is None and re.fullmatch(r"\s*[1-5]\s*(/\s*5)?\s*(stars?|⭐+)?\s*", turn.text):
                rating = re.findall(r"[1-5]", turn.text)[0]
            if rating is not None and rating.isdigit() and 1 <= int(rating) <= 5:
                d.csat = (esc_id, int(rating))
                self._say(d, turn, "utter_csat_thanks")
                d.action = "csat"
                return d

        if st.get("form"):
            if CANCEL.match(turn.text):
                self._clear_form(st)
                self._say(d, turn, "utter_form_cancelled")
                d.action = "form_cancelled"
                return d
            handled = self._continue_form(parse, turn, d)
            if handled:
                return d

        return self._by_intent(parse, turn, d)

    # -- intents ----------------------------------------------------------------------------------
    def _by_intent(self, parse: ParseResult, turn: Turn, d: Decision) -> Decision:
        st = d.state
        intent = parse.intent
        d.action = intent
        unsure_silence = intent in SILENT_INTENTS and parse.confidence < self.confident
        if parse.fallback or intent == "out_of_scope" or unsure_silence:
            # Silence is only for messages we are sure are spam/abuse; a fan we misread gets an answer.
            return self._fallback(parse, turn, d)
        st["fallbacks"] = 0
        if intent in SILENT_INTENTS:
            d.events.append(("moderation.flagged", {"intent": intent, "confidence": round(parse.confidence, 3)}))
            d.action = "silent"
            return d
        if intent in SIMPLE:
            self._say(d, turn, SIMPLE[intent])
        elif intent == "faq":
            if not self._answer_from_kb(parse, turn, d, self.kb_threshold):
                self._say(d, turn, "utter_faq_unsure")
                d.events.append(("faq.unanswered", {}))
        elif intent == "order_status":
            self._start_form(st, "order_status", "order_number")
            self._continue_form(parse, turn, d, first=True)
        elif intent == "refund_request":
            self._start_form(st, "refund", "order_number")
            self._continue_form(parse, turn, d, first=True)
        elif intent == "complaint":
            if len(turn.text.split()) >= 8:
                st["slots"]["complaint_details"] = turn.text
                self._escalate(d, turn, "complaints", parse, "utter_complaint_escalated")
            else:
                self._start_form(st, "complaint", "complaint_details")
                self._say(d, turn, "utter_ask_complaint_details")
        elif intent == "human_handoff":
            self._escalate(d, turn, "general", parse, "utter_handoff")
        elif intent == "crisis":
            self._escalate(d, turn, "crisis", parse, "utter_crisis")
        elif intent == "giveaway_enter":
            self._say(d, turn, "utter_no_giveaway")
        elif intent == "poll_vote":
            self._say(d, turn, "utter_no_poll")
        elif f"utter_{intent}" in self.domain.responses:  # an intent answered by its own response (Rasa rules)
            self._say(d, turn, f"utter_{intent}")
        else:
            self._say(d, turn, "utter_default")
        return d

    def _fallback(self, parse: ParseResult, turn: Turn, d: Decision) -> Decision:
        st = d.state
        # A confident knowledge-base match beats "I didn't understand".
        if parse.text and self._answer_from_kb(parse, turn, d, self.kb_threshold + 0.05):
            st["fallbacks"] = 0
            d.action = "faq"
            return d
        st["fallbacks"] = int(st.get("fallbacks", 0)) + 1
        d.events.append(("nlu.fallback", {"confidence": round(parse.confidence, 3),
                                          "candidate": parse.ranking[0][0] if parse.ranking else None}))
        if st["fallbacks"] >= self.max_fallbacks:
            st["fallbacks"] = 0
            self._say(d, turn, "utter_offer_human")
            d.action = "offer_human"
        elif not turn.text.strip():
            self._say(d, turn, "utter_empty_message")
        elif parse.fallback:
            self._say(d, turn, "utter_default")
            d.action = "fallback"
        else:
            self._say(d, turn, "utter_out_of_scope")
            d.action = "out_of_scope"
        return d

    def _answer_from_kb(self, parse: ParseResult, turn: Turn, d: Decision, threshold: float) -> bool:
        if self.kb is None or not parse.text:
            return False
        emb = parse.embedding if parse.encoder else None
        matches = self.kb.search(parse.text, encoder=parse.encoder or "e5", embedding=emb,
                                 language=parse.language)
        if not matches or matches[0].score < threshold:
            return False
        best = matches[0]
        self._say(d, turn, "utter_faq_answer", answer=best.article.summary(self.answer_chars),
                  article=best.article.title)
        d.events.append(("faq.answered", {"article": best.article.id, "score": round(best.score, 3)}))
        return True

    # -- forms --------------------------------------------------------------------------------------
    @staticmethod
    def _start_form(st: dict[str, Any], form: str, slot: str) -> None:
        st["form"] = form
        st["requested_slot"] = slot
        st["attempts"] = 0

    @staticmethod
    def _clear_form(st: dict[str, Any]) -> None:
        for k in ("form", "requested_slot", "attempts"):
            st.pop(k, None)

    def _continue_form(self, parse: ParseResult, turn: Turn, d: Decision, first: bool = False) -> bool:
        st = d.state
        form, slot = st.get("form"), st.get("requested_slot")
        d.action = f"form:{form}"
        if slot == "order_number":
            value = self._entity(parse, "order_number")
            value = normalise_order_number(value or turn.text) if value or turn.text else None
            if value:
                st["slots"]["order_number"] = value
                self._submit(parse, turn, d)
                return True
            if first:
                self._say(d, turn, "utter_ask_refund_order_number" if form == "refund" else "utter_ask_order_number")
                return True
            return self._form_miss(parse, turn, d, "utter_invalid_order_number")
        if slot == "complaint_details":
            other = (not parse.fallback and parse.confidence >= self.confident
                     and parse.intent in ("crisis", "human_handoff", "greet", "goodbye"))
            if other or not turn.text.strip():
                self._clear_form(st)
                return False
            st["slots"]["complaint_details"] = turn.text
            self._submit(parse, turn, d)
            return True
        self._clear_form(st)
        return False

    def _form_miss(self, parse: ParseResult, turn: Turn, d: Decision, retry: str) -> bool:
        st = d.state
        switches = (not parse.fallback and parse.confidence >= self.confident
                    and parse.intent not in ("order_status", "refund_request", "out_of_scope"))
        if switches:  # the fan moved on: drop the form and answer what they said
            self._clear_form(st)
            return False
        st["attempts"] = int(st.get("attempts", 0)) + 1
        if st["attempts"] >= self.form_max_attempts:
            self._clear_form(st)
            self._say(d, turn, "utter_form_give_up")
        else:
            self._say(d, turn, retry)
        return True

    def _submit(self, parse: ParseResult, turn: Turn, d: Decision) -> None:
        st = d.state
        form = st.get("form")
        slots = st["slots"]
        self._clear_form(st)
        if form in ("order_status", "refund"):
            number = slots["order_number"]
            order = self.orders.get(number)
            if order is None:
                self._say(d, turn, "utter_order_not_found", order_number=number)
                d.events.append(("order.not_found", {}))
                return
            slots["product"] = order.product
            if form == "order_status":
                eta = f"Expected delivery: {order.eta}." if order.eta and order.status not in ("delivered",
                                                                                                "cancelled") else ""
                self._say(d, turn, "utter_order_status", order_number=order.order_number, product=order.product,
                          status=order.status, eta_text=eta)
                d.events.append(("order.status", {"status": order.status}))
            else:
                self._escalate(d, turn, "refunds", parse, "utter_refund_escalated",
                               order_number=order.order_number, product=order.product, order_status=order.status)
        elif form == "complaint":
            self._escalate(d, turn, "complaints", parse, "utter_complaint_escalated")

    def _escalate(self, d: Decision, turn: Turn, queue: str, parse: ParseResult, response: str,
                  **details: Any) -> None:
        d.escalate = EscalationRequest(queue, self._reason(parse, turn, **details))
        d.action = f"escalate:{queue}"
        # The reply is rendered by the pipeline once the ticket number exists.
        d.replies.append(Outgoing(text="", response=response))
        d.state["pending_values"] = {k: str(v) for k, v in details.items()}

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
