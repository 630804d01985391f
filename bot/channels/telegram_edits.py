"""Edited messages: the stored message changes in place; an escalated conversation's operator sees
the edit in the ticket. An edit never runs the dialog again (that would answer twice or open a
second ticket). Redelivered edits (same update_id) are applied once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot.channels.telegram_updates import CHANNEL, Edit
from bot.pipeline import storable
from bot.store import Contact, Conversation, Escalation, Message, Store
from bot.store.models import utcnow

#: how far back in a conversation an edit may reach (Telegram allows edits for 48 hours)
SEARCH_DEPTH = 200


@dataclass(frozen=True)
class EditResult:
    message_id: int
    escalation_id: int | None  # set when an operator should hear about the edit


def apply_edit(store: Store, edit: Edit) -> EditResult | None:
    """Update the stored inbound message `edit` refers to. `None` if we never stored it (e.g. a group
    message that did not address the bot) or this update was applied before."""
    with store.session() as s:
        contact = s.scalar(select(Contact).where(Contact.channel == CHANNEL, Contact.external_id == edit.user_id))
        if contact is None:
            return None
        conv = s.scalar(select(Conversation).where(Conversation.channel == CHANNEL,
                                                   Conversation.chat_id == edit.chat_id,
                                                   Conversation.contact_id == contact.id))
        if conv is None:
            return None
        rows = s.scalars(select(Message).where(Message.conversation_id == conv.id, Message.direction == "in")
                         .order_by(Message.id.desc()).limit(SEARCH_DEPTH))
        msg = next((m for m in rows if (m.payload or {}).get("message_id") == edit.message_id), None)
        if msg is None:
            return None
        payload = dict(msg.payload or {})
        seen = list(payload.get("edit_updates", []))
        if edit.update_id in seen:
            return None
        text = storable(edit.text)
        payload["edit_updates"] = [*seen[-19:], edit.update_id]
        payload.setdefault("original_text", msg.text)
        msg.payload = payload
        msg.text = text
        store.audit(s, "message.edited", conversation_id=conv.id, data={"message_id": msg.id})
        esc_id = None
        if conv.active_escalation_id is not None:
            esc = s.get(Escalation, conv.active_escalation_id)
            if esc is not None and esc.state in ("open", "claimed"):
                esc.transcript = [*list(esc.transcript or []),
                                  {"from": "fan", "text": text[:2000], "edited": True, "at": utcnow().isoformat()}]
                esc_id = esc.id
        return EditResult(msg.id, esc_id)
