"""fancare's own custom actions, registered by name so flows can call them with `action: NAME`.

They run in-process (no action server): the order lookup port and the knowledge base are already in
the app, and a brand's Rasa action server (`actions.url`) only gets the names registered nowhere here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.order_owner import (
    FAILURES_SLOT,
    LINKS_SLOT,
    OwnerCheck,
    blocked,
    is_linked,
    linked,
    proof_kind,
    recent_failures,
)
from bot.orders import OrderLookup, normalise_order_number
from dialogs.actions import ActionCall, ActionRegistry, ActionResult
from dialogs.phrases import PHRASES
from knowledge_base.retriever import KnowledgeBase

#: Order states for which a delivery date would be misleading.
_NO_ETA = ("delivered", "cancelled")

#: (phrase key, language, values) -> text: Domain.phrase, or English only
PhraseFn = Callable[..., str]


def english_phrase(key: str, language: str | None = None, **values: Any) -> str:
    """The English phrase (dialogs/phrases.py): what the actions say when no domain translates."""
    return PHRASES[key].format(**values)


def builtin_actions(registry: ActionRegistry, *, orders: OrderLookup, kb: KnowledgeBase | None = None,
                    answer_chars: int = 700, kb_threshold: float = 0.62, encoder: str = "e5",
                    phrase: PhraseFn = english_phrase, owner: OwnerCheck | None = None) -> ActionRegistry:
    """Register `action_verify_order_owner`, `action_lookup_order` and `action_kb_answer` on `registry`
    and return it. `phrase` words the delivery line in the fan's language (the app passes `Domain.phrase`).

    `owner` is the configured ownership check (`App` passes `orders.verify` and its limits); without
    one no second factor is asked, which is what a policy built by hand for a test gets.
    """
    check = owner or OwnerCheck(verify="none")

    def verify_order_owner(call: ActionCall) -> ActionResult:
        """Slots `order_number` (+ `order_proof`, the fan's email or postcode) -> `order_verified`.

        Runs twice in a flow: before the question (a linked fan, or no check configured, passes
        without one) and after it. `order_verify_blocked` is set when the fan used up their attempts.
        The fan's answer is cleared from the slots either way, so it never reaches a ticket.
        An unknown order and a wrong answer are the same failure: nothing tells them apart.
        """
        raw = call.slots.get("order_number")
        number = normalise_order_number(str(raw)) if raw else None
        if not check.required:
            return ActionResult(slots={"order_verified": True})
        now = datetime.now(UTC)
        failures = recent_failures(call.slots, check, now)
        base: dict[str, Any] = {"order_proof": None, FAILURES_SLOT: failures}
        if blocked(call.slots, check, now):
            return ActionResult(slots={**base, "order_verified": False, "order_verify_blocked": True})
        order = orders.get(number) if number else None
        if number and is_linked(call.slots, number, order):
            return ActionResult(slots={**base, "order_verified": True, "order_verify_blocked": False})
        proof = call.slots.get("order_proof")
        if not proof:  # not asked yet: the flow asks for the email or postcode
            return ActionResult(slots={**base, "order_verified": False, "order_verify_blocked": False})
        kind = proof_kind(order, str(proof))
        if kind is None or number is None:
            failures = [*failures, now.isoformat()]
            return ActionResult(slots={**base, FAILURES_SLOT: failures, "order_verified": False,
                                       "order_verify_blocked": len(failures) >= check.max_failed})
        return ActionResult(slots={**base, LINKS_SLOT: linked(call.slots, number, order, kind),
                                   "order_verified": True, "order_verify_blocked": False})

    def lookup_order(call: ActionCall) -> ActionResult:
        """Slot `order_number` -> `order_found` and, when found, the order's details as slots.

        The responses are the flow's business (`utter_order_status` / `utter_order_not_found` after a
        `next: if slots.order_found`), so the action only sets slots.
        """
        raw = call.slots.get("order_number")
        number = normalise_order_number(str(raw)) if raw else None
        order = orders.get(number) if number else None
        if order is None or (check.required and not is_linked(call.slots, number or "", order)):
            return ActionResult(slots={"order_found": False})  # unverified: as if there were no such order
        eta = (phrase("order.eta", call.language, eta=order.eta)
               if order.eta and order.status not in _NO_ETA else "")
        return ActionResult(slots={"order_found": True, "order_number": order.order_number,
                                   "product": order.product, "order_status": order.status, "eta_text": eta})

    def kb_answer(call: ActionCall) -> ActionResult:
        """Answer the fan's message from the best help article, or say we are unsure (which offers a human)."""
        matches = kb.search(call.text, encoder=encoder, language=call.language) if kb and call.text.strip() else []
        if not matches or matches[0].score < kb_threshold:
            unsure = ActionResult.say("utter_faq_unsure")
            unsure.slots["kb_article"] = None
            return unsure
        best = matches[0]
        article = best.article  # already the fan's translation, when there is one (KnowledgeBase.search)
        result = ActionResult.say("utter_faq_answer", answer=article.summary(answer_chars), article=article.title)
        result.slots["kb_article"] = article.id
        return result

    registry.register("action_verify_order_owner", verify_order_owner)
    registry.register("action_lookup_order", lookup_order)
    registry.register("action_kb_answer", kb_answer)
    return registry

