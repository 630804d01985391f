"""fancare's own custom actions, registered by name so flows can call them with `action: NAME`.

They run in-process (no action server): the order lookup port and the knowledge base are already in
the app, and a brand's Rasa action server (`actions.url`) only gets the names registered nowhere here.
"""

from __future__ import annotations

from bot.orders import OrderLookup, normalise_order_number
from dialogs.actions import ActionCall, ActionRegistry, ActionResult
from knowledge_base.retriever import KnowledgeBase

#: Order states for which a delivery date would be misleading.
_NO_ETA = ("delivered", "cancelled")


def builtin_actions(registry: ActionRegistry, *, orders: OrderLookup, kb: KnowledgeBase | None = None,
                    answer_chars: int = 700, kb_threshold: float = 0.62, encoder: str = "e5") -> ActionRegistry:
    """Register `action_lookup_order` and `action_kb_answer` on `registry` and return it."""

    def lookup_order(call: ActionCall) -> ActionResult:
        """Slot `order_number` -> `order_found` and, when found, the order's details as slots.

        The responses are the flow's business (`utter_order_status` / `utter_order_not_found` after a
        `next: if slots.order_found`), so the action only sets slots.
        """
        raw = call.slots.get("order_number")
        number = normalise_order_number(str(raw)) if raw else None
        order = orders.get(number) if number else None
        if order is None:
            return ActionResult(slots={"order_found": False})
        eta = f"Expected delivery: {order.eta}." if order.eta and order.status not in _NO_ETA else ""
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
        result = ActionResult.say("utter_faq_answer", answer=best.article.summary(answer_chars),
                                  article=best.article.title)
        result.slots["kb_article"] = best.article.id
        return result

    registry.register("action_lookup_order", lookup_order)
    registry.register("action_kb_answer", kb_answer)
    return registry

