"""Moderation actions on Telegram groups through the Bot API (python-telegram-bot).

deleteMessage / restrictChatMember (mute until a date) / banChatMember, and a short public notice;
lifting a mute or ban when a moderator restores; pinning the crisis playbook's holding statement.
Never against admins (checked with getChatMember right before acting: roles change), the bot itself,
anonymous admins or the group's linked channel (the brand's own channel posts in its discussion
group that way; getChat says which); other senders posting "as a channel" are deleted and banned
with banChatSenderChat. In private chats only the delete applies.
"""

from __future__ import annotations

import datetime as dtm
import logging
from typing import Any

from telegram import Bot, ChatPermissions

from bot.config import TelegramConfig, secret
from moderation.actions import Target

log = logging.getLogger("fancare.moderation.telegram")
CHANNEL_BOT_ID = 136817688  # author of messages sent as a channel
ANON_ADMIN_ID = 1087968824  # author of anonymous admins' messages
PROTECTED_ROLES = {"creator", "administrator"}


class TelegramActions:
    """The `ModerationActions` port on a PTB `Bot` (the channel's own, or one built from config)."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self._ready = False
        self._linked: dict[int, int | None] = {}  # group -> its linked (the brand's) channel

    @classmethod
    def from_config(cls, cfg: TelegramConfig) -> TelegramActions:
        return cls(Bot(secret(cfg.token) or "", base_url=cfg.base_url or "https://api.telegram.org/bot"))

    async def _bot(self) -> Bot:
        if not self._ready:
            await self.bot.initialize()
            self._ready = True
        return self.bot

    async def _linked_channel(self, chat_id: int) -> int | None:
        if chat_id not in self._linked:
            chat = await (await self._bot()).get_chat(chat_id)
            self._linked[chat_id] = chat.linked_chat_id
        return self._linked[chat_id]

    async def _protected_sender_chat(self, t: Target) -> bool:
        """A message sent as a chat: the group itself (an anonymous admin) and the group's linked
        channel (the brand's own posts and comments) are protected; any other channel is a fan."""
        assert t.sender_chat is not None
        sc, chat = int(t.sender_chat), int(t.chat_id)
        if sc == chat or chat > 0:
            return True
        try:
            return sc == await self._linked_channel(chat)
        except Exception as exc:  # noqa: BLE001 - unsure who it is: do not act
            log.warning("moderation: getChat failed for %s: %s", chat, type(exc).__name__)
            return True

    async def _protected(self, t: Target) -> bool:
        """True when nobody may act on this sender: admins, the bot, the brand's channel, anonymous admins."""
        if t.sender_chat is not None:
            return await self._protected_sender_chat(t)
        if not t.user_id.lstrip("-").isdigit():
            return True
        uid = int(t.user_id)
        bot = await self._bot()
        if uid in (CHANNEL_BOT_ID, ANON_ADMIN_ID, bot.id) or uid < 0:
            return True
        if int(t.chat_id) > 0:  # a private chat: there is nobody to restrict
            return True
        member = await bot.get_chat_member(int(t.chat_id), uid)
        return member.status in PROTECTED_ROLES

    async def delete_message(self, t: Target) -> bool:
        if t.message_id is None or await self._protected(t):
            log.info("moderation: not deleting message %s in %s (protected sender)", t.message_id, t.chat_id)
            return False
        return await (await self._bot()).delete_message(int(t.chat_id), int(t.message_id))

    async def restrict(self, t: Target, minutes: int) -> bool:
        if t.sender_chat is not None or await self._protected(t):  # a channel cannot be muted, only banned
            log.info("moderation: not muting protected sender in %s", t.chat_id)
            return False
        until = dtm.datetime.now(dtm.UTC) + dtm.timedelta(minutes=minutes)
        return await (await self._bot()).restrict_chat_member(int(t.chat_id), int(t.user_id), _MUTED,
                                                              until_date=until)

    async def ban(self, t: Target) -> bool:
        if await self._protected(t):
            log.info("moderation: not banning protected sender in %s", t.chat_id)
            return False
        if t.sender_chat is not None:  # posting "as a channel": the channel is banned from the group
            return await (await self._bot()).ban_chat_sender_chat(int(t.chat_id), int(t.sender_chat))
        return await (await self._bot()).ban_chat_member(int(t.chat_id), int(t.user_id), revoke_messages=False)

    async def notice(self, t: Target, text: str) -> bool:
        await (await self._bot()).send_message(int(t.chat_id), text)
        return True

    async def lift(self, t: Target, action: str) -> bool:
        """Undo a mute or a ban (a moderator restored the message): full rights back, or unbanned
        without being re-added (they rejoin through the group's link, as Telegram intends)."""
        bot = await self._bot()
        if action == "ban" and t.sender_chat is not None:
            return await bot.unban_chat_sender_chat(int(t.chat_id), int(t.sender_chat))
        if action == "ban":
            return await bot.unban_chat_member(int(t.chat_id), int(t.user_id), only_if_banned=True)
        if action == "mute":
            return await bot.restrict_chat_member(int(t.chat_id), int(t.user_id), _UNMUTED)
        return False

    async def pin_notice(self, chat_id: str, text: str) -> int | None:
        """Post `text` in the group and pin it (the crisis playbook's holding statement)."""
        bot = await self._bot()
        msg = await bot.send_message(int(chat_id), text)
        await bot.pin_chat_message(int(chat_id), msg.message_id, disable_notification=False)
        return msg.message_id

    async def unpin(self, chat_id: str, message_id: str) -> bool:
        return await (await self._bot()).unpin_chat_message(int(chat_id), int(message_id))

    async def close(self) -> None:
        if self._ready:
            await self.bot.shutdown()
            self._ready = False


_MUTED: Any = ChatPermissions.no_permissions()
_UNMUTED: Any = ChatPermissions.all_permissions()
