"""Messages that polls and giveaways send outside a fan's turn (announcements, results, winner
notices) go through the same outbox as replies: a row first, then the pipeline's dispatcher sends
it with its retries and per-conversation order. A group announcement lives in a conversation of the
bot's own contact ("fancare") in that chat; a winner notice in the winner's private chat."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.store import Store
from dialogs.domain import Button, Outgoing

SYSTEM_CONTACT = "fancare"


def queue_message(store: Store, s: Session, channel: str, chat_id: str, text: str,
                  buttons: tuple[Button, ...] = (), *, to_user: str | None = None) -> int:
    """Queue `text` for `chat_id` (as the bot, or to `to_user`'s private conversation); returns the
    conversation id so the caller can dispatch it."""
    contact = store.contact_for(s, channel, to_user or SYSTEM_CONTACT, None if to_user else "fancare", None)
    conv = store.conversation_for(s, channel, chat_id, contact)
    store.add_outbound(s, conv, text, payload=Outgoing(text=text, buttons=buttons).as_payload())
    return conv.id
