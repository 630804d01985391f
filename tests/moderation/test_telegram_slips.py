"""What used to slip through moderation on Telegram, end to end (real python-telegram-bot, fake Bot
API, real pipeline and store, the standard rules): a message edited into a scam link, a scam comment
under a channel post, and a sender posting "as a channel" (deleted, then banned with
banChatSenderChat), while the brand's own linked channel and anonymous admins stay untouched."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.config import load_config
from tests.bot.channels.telegram_harness import TOKEN_ENV, TelegramHarness, telegram_config
from tests.conftest import write_config
from tests.fakes.telegram_server import ANON_ADMIN_ID, CHANNEL_BOT_ID, TOKEN, FakeTelegram, message, user

GROUP = -1001234567890
BRAND_CHANNEL = {"id": -1009999, "type": "channel", "title": "Voltora News"}
SCAM = "Earn $500 a day with bitcoin, claim your reward now at bit.ly/fr33-btc"


@pytest.fixture
async def mod_tg(tmp_path: Path, store_url: str, model_dir: Path, nlu_model: Any, telegram_server: FakeTelegram,
                 monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Callable[[], Awaitable[TelegramHarness]]]:
    started: list[TelegramHarness] = []

    async def start() -> TelegramHarness:
        monkeypatch.setenv(TOKEN_ENV, TOKEN)
        path = write_config(tmp_path, store_url, model_dir, channels={"telegram": telegram_config(telegram_server)},
                            moderation={"preset": "standard", "allowed_links": ["voltora.com"],
                                        "strikes": {"mute_after": 2, "ban_after": 2}})
        h = await TelegramHarness(App(load_config(path), model=nlu_model), telegram_server).start()
        started.append(h)
        return h

    yield start
    for h in started:
        await h.stop()
        for port in h.app.moderator.actions.values():
            close = getattr(port, "close", None)
            if close is not None:
                await close()
        h.app.close()


def _deleted(fake: FakeTelegram) -> set[int]:
    return {int(c.params["message_id"]) for c in fake.calls_of("deleteMessage")}


async def test_edit_into_a_scam_link_is_deleted_in_a_group(mod_tg):
    h = await mod_tg()
    fake = h.fake
    clean = message(fake, GROUP, "love my new Pulse 4, the battery lasts days", from_user=user(3001))
    fake.push({"message": clean})
    await h.until_handled(1)
    assert clean["message_id"] not in _deleted(fake)
    fake.push({"edited_message": {**clean, "text": SCAM, "edit_date": 1}})
    await fake.wait_for(lambda: clean["message_id"] in _deleted(fake))
    assert h.service.metrics["telegram_edits"] == 1
    msgs = h.inbound()
    assert len(msgs) == 1 and msgs[0].text == SCAM  # stored in place, no second turn


async def test_a_private_edit_is_not_moderated_as_a_group(mod_tg):
    h = await mod_tg()
    fake = h.fake
    first = message(fake, 3002, "hello there", from_user=user(3002))
    fake.push({"message": first})
    await h.until_handled(1)
    fake.push({"edited_message": {**first, "text": "hello there, how long does shipping take?", "edit_date": 1}})
    await fake.wait_for(lambda: h.service.metrics["telegram_edits"] == 1)
    await asyncio.sleep(0.2)
    assert fake.calls_of("deleteMessage") == []


async def test_scam_comment_under_a_channel_post_is_deleted(mod_tg):
    h = await mod_tg()
    fake = h.fake
    fake.linked_chats[GROUP] = BRAND_CHANNEL["id"]
    post = message(fake, GROUP, "New Pulse 4 is out!", from_user={"id": CHANNEL_BOT_ID, "is_bot": True,
                   "first_name": "Channel"}, sender_chat=BRAND_CHANNEL, is_automatic_forward=True,
                   forward_origin={"type": "channel", "chat": BRAND_CHANNEL, "message_id": 77, "date": 0})
    fake.push({"message": post})
    comment = message(fake, GROUP, SCAM, from_user=user(3003), reply_to=post, thread_id=post["message_id"])
    fake.push({"message": comment})
    # the brand's channel answering under its own post is never acted on
    brand = message(fake, GROUP, SCAM, from_user={"id": CHANNEL_BOT_ID, "is_bot": True, "first_name": "Channel"},
                    sender_chat=BRAND_CHANNEL, reply_to=post, thread_id=post["message_id"])
    fake.push({"message": brand})
    await h.until_handled(2)
    await fake.wait_for(lambda: comment["message_id"] in _deleted(fake))
    await asyncio.sleep(0.2)
    assert _deleted(fake) == {comment["message_id"]}
    assert h.inbound()[0].payload["channel_post"]["chat_id"] == BRAND_CHANNEL["id"]


async def test_sender_chat_spammer_is_deleted_and_banned_with_ban_chat_sender_chat(mod_tg):
    h = await mod_tg()
    fake = h.fake
    fake.linked_chats[GROUP] = BRAND_CHANNEL["id"]
    spam_channel = {"id": -1005555, "type": "channel", "title": "Crypto Gains"}
    as_channel = {"id": CHANNEL_BOT_ID, "is_bot": True, "first_name": "Channel"}
    posts = [message(fake, GROUP, f"{SCAM} #{i}", from_user=as_channel, sender_chat=spam_channel) for i in range(2)]
    for p in posts:
        fake.push({"message": p})
    await h.until_handled(2)
    await fake.wait_for(lambda: len(fake.calls_of("banChatSenderChat")) >= 1
                        and _deleted(fake) == {p["message_id"] for p in posts})
    for call in fake.calls_of("banChatSenderChat"):
        assert int(call.params["chat_id"]) == GROUP and int(call.params["sender_chat_id"]) == spam_channel["id"]
    assert fake.banned_sender_chats[GROUP] == {spam_channel["id"]}
    assert fake.calls_of("banChatMember") == [] and fake.calls_of("restrictChatMember") == []
    # an anonymous admin (sent as the group itself) is never acted on
    anon = message(fake, GROUP, SCAM, from_user={"id": ANON_ADMIN_ID, "is_bot": True, "first_name": "Group"},
                   sender_chat={"id": GROUP, "type": "supergroup", "title": "Voltora fans"})
    fake.push({"message": anon})
    await h.until_handled(3)
    await asyncio.sleep(0.2)
    assert anon["message_id"] not in _deleted(fake)
