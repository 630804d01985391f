"""Telegram `Update` -> fancare envelope. Pure functions: no I/O, so every rule is unit-testable.

Rules that live here (and only here):
- which updates matter: fan messages (text or caption), button presses, edits; the rest is acked
  and dropped (service messages, stickers, the channel post auto-forwarded into a discussion group);
- who the fan is: the user, or for "sent as channel" / anonymous admins the chat they speak as;
- where the conversation lives: the chat id; the store keys conversations by (chat, fan), which
  gives one conversation per fan per group;
- whether the bot was addressed in a group (mention, reply to the bot, a command for the bot,
  a button it sent).
The dedup key of every update is its `update_id` (`Incoming.external_id`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from telegram import Message, MessageEntity, MessageOriginChannel, Update, User

from bot.channels.base import Incoming
from bot.config import TelegramConfig

CHANNEL = "telegram"
GROUP_TYPES = ("group", "supergroup")
#: Update kinds we ask Telegram for (getUpdates / setWebhook `allowed_updates`).
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "poll_answer"]


@dataclass(frozen=True)
class Edit:
    """A fan edited a message we may have stored: update it in place, never open a new ticket."""

    update_id: int
    chat_id: str
    user_id: str
    message_id: int
    text: str
    #: groups and comments under channel posts: the edit is moderated like a new message
    moderate: bool = False
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PollAnswer:
    """A fan voted (or retracted) in a native poll we posted: recorded directly, no NLU turn."""

    update_id: int
    poll_id: str
    user_id: str
    option_ids: tuple[int, ...]


@dataclass(frozen=True)
class Sender:
    user_id: str
    display_name: str | None
    language: str | None


def sender_of(msg: Message) -> Sender | None:
    """The author as fancare sees it. `None` for other bots (never answer a bot)."""
    if msg.sender_chat is not None:
        # "sent as channel" (sender_chat is a channel) or an anonymous admin (sender_chat is the group)
        sc = msg.sender_chat
        name = sc.title or sc.username or str(sc.id)
        if msg.author_signature:
            name = f"{msg.author_signature} ({name})"
        return Sender(f"chat{sc.id}", name, None)
    u = msg.from_user
    if u is None or u.is_bot:
        return None
    return Sender(str(u.id), u.full_name, u.language_code)


def is_addressed(msg: Message, me: User) -> bool:
    """In a group, the bot speaks only when spoken to."""
    reply = msg.reply_to_message
    if reply is not None and reply.from_user is not None and reply.from_user.id == me.id:
        return True
    handle = f"@{me.username}".lower() if me.username else None
    entities = msg.parse_entities() if msg.text else msg.parse_caption_entities()
    for ent, value in entities.items():
        if ent.type == MessageEntity.TEXT_MENTION and ent.user is not None and ent.user.id == me.id:
            return True
        if handle and ent.type == MessageEntity.MENTION and value.lower() == handle:
            return True
        if handle and ent.type == MessageEntity.BOT_COMMAND and value.lower().endswith(handle):
            return True
    return False


def strip_mention(text: str, me: User) -> str:
    """`@voltora_bot where is my order` -> `where is my order` (the NLU should not see the handle)."""
    if not me.username:
        return text
    handle = f"@{me.username}"
    low = text.lower()
    i = low.find(handle.lower())
    while i != -1:
        text = (text[:i] + text[i + len(handle):]).strip()
        low = text.lower()
        i = low.find(handle.lower())
    return text


def _channel_post(msg: Message) -> dict[str, Any] | None:
    """For a comment under a channel post: which post (the discussion thread's root)."""
    root = msg.reply_to_message
    if root is not None and root.is_automatic_forward:
        origin = root.forward_origin
        if isinstance(origin, MessageOriginChannel):
            return {"chat_id": origin.chat.id, "message_id": origin.message_id,
                    "discussion_message_id": root.message_id}
        return {"discussion_message_id": root.message_id}
    if msg.message_thread_id is not None and msg.chat.is_forum is not True:
        return {"discussion_message_id": msg.message_thread_id}
    return None


def _chat_active(chat_type: str, chat_id: int, cfg: TelegramConfig) -> bool:
    if chat_type == "private":
        return cfg.private_chats
    if chat_type in GROUP_TYPES:
        return cfg.allowed_chats is None or chat_id in cfg.allowed_chats
    return False  # channels: the bot does not talk in channels, only under their posts


def _start_text(text: str) -> str:
    """`/start` (possibly with a deep-link payload) opens a private chat: greet the fan. `/help` (which
    Telegram offers in every bot's menu) asks what the assistant can do (dialogs/policy.py `utter_help`)."""
    head = text.split(maxsplit=1)[0].lower() if text.strip() else ""
    if head == "/help" or head.startswith("/help@"):
        return "help"
    return "/greet" if head == "/start" or head.startswith("/start@") else text


def classify(update: Update, me: User, cfg: TelegramConfig) -> Incoming | Edit | PollAnswer | None:
    """What to do with one update: process it (`Incoming`), apply an edit, or ignore (`None`)."""
    if update.poll_answer is not None:
        pa = update.poll_answer
        if pa.user is None or pa.user.is_bot:  # voted as a chat (anonymous admin): not a fan
            return None
        return PollAnswer(update.update_id, pa.poll_id, str(pa.user.id), tuple(pa.option_ids))
    if update.callback_query is not None:
        return _from_callback(update, me, cfg)
    if update.edited_message is not None:
        em = update.edited_message
        who = sender_of(em)
        text = em.text or em.caption
        if who is None or text is None:
            return None
        moderate = em.chat.type in GROUP_TYPES and _chat_active(em.chat.type, em.chat.id, cfg)
        edit_meta: dict[str, Any] = {"message_id": em.message_id, "chat_type": em.chat.type, "edited": True}
        if moderate:
            edit_meta.update(_group_meta(em))
        return Edit(update.update_id, str(em.chat.id), who.user_id, em.message_id, text, moderate, edit_meta)
    msg = update.message
    if msg is None or msg.is_automatic_forward:
        return None
    text = msg.text if msg.text is not None else msg.caption
    who = sender_of(msg)
    if text is None or who is None or not _chat_active(msg.chat.type, msg.chat.id, cfg):
        return None
    meta: dict[str, Any] = {"message_id": msg.message_id, "chat_type": msg.chat.type}
    if msg.date is not None:  # Telegram's own send time: flood is counted on it, so a backlog never trips it
        meta["sent_at"] = msg.date.timestamp()
    if msg.chat.type == "private":
        text = _start_text(text)
    else:
        meta["addressed"] = is_addressed(msg, me)
        meta["reply_to_id"] = str(msg.message_id)
        meta.update(_group_meta(msg))
        text = strip_mention(text, me)
    return Incoming(channel=CHANNEL, external_id=str(update.update_id), chat_id=str(msg.chat.id),
                    user_id=who.user_id, text=text, display_name=who.display_name, language=who.language,
                    meta=meta)


def _group_meta(msg: Message) -> dict[str, Any]:
    """Where a group message (or its edit) stands, for moderation: the chat, the channel post it
    comments on, and the channel it was sent as."""
    meta: dict[str, Any] = {"chat_id": msg.chat.id}
    post = _channel_post(msg)
    if post is not None:
        meta["channel_post"] = post
    if msg.sender_chat is not None:
        meta["sender_chat"] = msg.sender_chat.id
    return meta


def _from_callback(update: Update, me: User, cfg: TelegramConfig) -> Incoming | None:
    """A button press: its payload (e.g. `/human_handoff`) is the fan's message."""
    cq = update.callback_query
    assert cq is not None
    msg = cq.message
    if msg is None or not cq.data or cq.from_user.is_bot:
        return None
    chat = msg.chat
    if not _chat_active(chat.type, chat.id, cfg):
        return None
    # `button`: a press, not typed text; the pipeline checks the bot sent this payload in this chat
    meta: dict[str, Any] = {"callback_query_id": cq.id, "chat_type": chat.type, "button_on": msg.message_id,
                            "button": True}
    if chat.type in GROUP_TYPES:
        meta.update(addressed=True, chat_id=chat.id, reply_to_id=str(msg.message_id))
    return Incoming(channel=CHANNEL, external_id=str(update.update_id), chat_id=str(chat.id),
                    user_id=str(cq.from_user.id), text=cq.data, display_name=cq.from_user.full_name,
                    language=cq.from_user.language_code, meta=meta)
