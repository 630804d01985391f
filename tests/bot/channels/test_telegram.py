"""Fans on Telegram, end to end: real python-telegram-bot, fake Bot API, real pipeline and store."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from bot import inbox
from bot.operators import LocalInbox
from bot.store import Contact, Conversation, Escalation, Message
from tests.fakes.telegram_server import (
    ANON_ADMIN_ID,
    BOT_ID,
    BOT_USERNAME,
    CHANNEL_BOT_ID,
    TOKEN,
    mention,
    message,
    user,
)

FAN = 1001
GROUP = -1001234567890


async def test_private_faq_answer_with_typing_indicator(tg, caplog):
    caplog.set_level(logging.DEBUG, logger="fancare")
    h = await tg(typing_after_s=0)  # "typing..." at once (the default waits 1 s: a fast reply needs none)
    fake = h.fake
    question = "how long does shipping to Germany take?"
    fake.push({"message": message(fake, FAN, question, from_user=user(FAN))})
    await fake.wait_for(lambda: len(fake.sent(FAN)) == 1)
    sent = fake.sent(FAN)[0]
    assert "How long does shipping take?" in sent["text"]
    assert "parse_mode" not in sent and "reply_parameters" not in sent  # plain text, no threading in private
    assert [int(c.params["chat_id"]) for c in fake.calls_of("sendChatAction")] == [FAN]
    assert fake.calls_of("deleteWebhook")  # polling mode clears a stale webhook
    # neither the token nor the fan's words reach the logs at INFO
    infos = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert TOKEN not in infos and TOKEN.split(":")[1] not in infos and question not in infos
    assert not any(r.name.startswith("httpx") and r.levelno < logging.WARNING for r in caplog.records)


async def test_a_reply_out_before_the_typing_delay_sends_no_typing_indicator(tg):
    h = await tg(typing_after_s=20)
    fake = h.fake
    fake.push({"message": message(fake, FAN, "how long does shipping to Germany take?", from_user=user(FAN))})
    await fake.wait_for(lambda: len(fake.sent(FAN)) == 1)
    await h.until_handled(1)
    assert fake.calls_of("sendChatAction") == []


async def test_order_form_buttons_and_handoff_by_button(tg):
    h = await tg()
    fake = h.fake
    fake.push({"message": message(fake, FAN, "where is my order?", from_user=user(FAN))})
    await fake.wait_for(lambda: len(fake.sent(FAN)) == 1)
    assert "order number" in fake.texts(FAN)[0]
    fake.push({"message": message(fake, FAN, "VT-999999", from_user=user(FAN))})
    await fake.wait_for(lambda: len(fake.sent(FAN)) == 2)
    assert "email address or postcode" in fake.texts(FAN)[1]  # orders.verify: an unknown order is asked too
    fake.push({"message": message(fake, FAN, "maya.lopez@example.com", from_user=user(FAN))})
    await fake.wait_for(lambda: len(fake.sent(FAN)) == 3)
    reply = fake.sent(FAN)[2]
    assert "doesn't match our records" in reply["text"]
    keyboard = reply["reply_markup"]["inline_keyboard"]
    assert keyboard == [[{"text": "Talk to a human", "callback_data": "/human_handoff"}]]
    # the fan presses the button: the payload is their message, the spinner is answered
    bot_msg = {"message_id": 2, "date": 0, "chat": {"id": FAN, "type": "private"}, "text": reply["text"],
               "from": fake.me}
    fake.push({"callback_query": {"id": "cq-1", "from": user(FAN), "chat_instance": "x", "data": "/human_handoff",
                                  "message": bot_msg}})
    await fake.wait_for(lambda: len(fake.sent(FAN)) == 4)
    assert "ticket #" in fake.texts(FAN)[3]
    assert [c.params["callback_query_id"] for c in fake.calls_of("answerCallbackQuery")] == ["cq-1"]
    with h.app.store.session() as s:
        esc = s.scalars(select(Escalation)).one()
        assert esc.state == "open"


async def test_help_command_says_what_the_assistant_does_with_buttons(tg):
    """Telegram offers /help in every bot's menu: the fan gets what the assistant does, with a button
    per common task (read as words, /help once got "You're welcome!"), and a press starts that task."""
    h = await tg()
    fake = h.fake
    fake.push({"message": message(fake, FAN, "/help", from_user=user(FAN),
                                  entities=[{"type": "bot_command", "offset": 0, "length": 5}])})
    await fake.wait_for(lambda: len(fake.sent(FAN)) == 1)
    reply = fake.sent(FAN)[0]
    assert "where your order is" in reply["text"] and "welcome" not in reply["text"]
    keyboard = [b for row in reply["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["callback_data"] for b in keyboard] == ["/order_status", "/refund_request", "/human_handoff"]
    bot_msg = {"message_id": 2, "date": 0, "chat": {"id": FAN, "type": "private"}, "text": reply["text"],
               "from": fake.me}
    fake.push({"callback_query": {"id": "cq-h", "from": user(FAN), "chat_instance": "x", "data": "/order_status",
                                  "message": bot_msg}})
    await fake.wait_for(lambda: len(fake.sent(FAN)) == 2)
    assert "order number" in fake.texts(FAN)[1]


async def test_group_answers_only_when_addressed_one_conversation_per_fan(tg):
    h = await tg()
    fake = h.fake
    ana, ben = user(2001, "Ana"), user(2002, "Ben")
    fake.push({"message": message(fake, GROUP, "hello everyone, great launch!", from_user=ana)})
    await h.until_handled(1)
    assert fake.sent(GROUP) == []  # not addressed, not a public intent: silence
    text = f"@{BOT_USERNAME} hi there"
    m2 = message(fake, GROUP, text, from_user=ana, entities=mention(text))
    fake.push({"message": m2})
    await fake.wait_for(lambda: len(fake.sent(GROUP)) == 1)
    assert fake.sent(GROUP)[0]["reply_parameters"]["message_id"] == m2["message_id"]
    # unaddressed, but an FAQ (a public intent): answered, threaded to the asker
    m3 = message(fake, GROUP, "how long does shipping to Germany take?", from_user=ben)
    fake.push({"message": m3})
    await fake.wait_for(lambda: len(fake.sent(GROUP)) == 2)
    assert "How long does shipping take?" in fake.sent(GROUP)[1]["text"]
    assert fake.sent(GROUP)[1]["reply_parameters"]["message_id"] == m3["message_id"]
    # replying to the bot's message addresses it too
    bot_reply = {"message_id": 999, "date": 0, "chat": {"id": GROUP, "type": "supergroup"}, "from": fake.me,
                 "text": "..."}
    fake.push({"message": message(fake, GROUP, "thanks a lot", from_user=ben, reply_to=bot_reply)})
    await fake.wait_for(lambda: len(fake.sent(GROUP)) == 3)
    await h.until_handled(4)
    with h.app.store.session() as s:
        convs = list(s.scalars(select(Conversation).where(Conversation.chat_id == str(GROUP))))
        assert len(convs) == 2  # one per fan in the group, not one per group
        nlu_text = s.scalars(select(Message).where(Message.direction == "in").order_by(Message.id)).all()[1].text
        assert nlu_text == "hi there"  # the @handle is not part of what the NLU reads


async def test_sensitive_matter_moves_to_private_chat(tg):
    h = await tg()
    fake = h.fake
    text = f"@{BOT_USERNAME} where is my order VT-482913?"
    fake.push({"message": message(fake, GROUP, text, from_user=user(2001), entities=mention(text))})
    await fake.wait_for(lambda: len(fake.sent(GROUP)) == 1)
    reply = fake.texts(GROUP)[0]
    assert f"https://t.me/{BOT_USERNAME}?start=g" in reply
    assert "shipped" not in reply and "VT-482913" not in reply  # no order details in public
    # the deep link opens a private chat that starts with a greeting
    fake.push({"message": message(fake, 2001, "/start g1234567890", from_user=user(2001),
                                  entities=[{"type": "bot_command", "offset": 0, "length": 6}])})
    await fake.wait_for(lambda: len(fake.sent(2001)) == 1)


async def test_channel_comment_and_sender_attribution(tg):
    h = await tg()
    fake = h.fake
    channel = {"id": -1009999, "type": "channel", "title": "Voltora News"}
    post = message(fake, GROUP, "New Pulse 4 is out!", from_user={"id": CHANNEL_BOT_ID, "is_bot": True,
                   "first_name": "Channel"}, sender_chat=channel, is_automatic_forward=True,
                   forward_origin={"type": "channel", "chat": channel, "message_id": 77, "date": 0})
    fake.push({"message": post})  # the auto-forward itself is not a fan
    comment = message(fake, GROUP, "how long does shipping to Germany take?", from_user=user(2001),
                      reply_to=post, thread_id=post["message_id"])
    fake.push({"message": comment})
    as_channel = message(fake, GROUP, "how long does shipping to Germany take?",
                         from_user={"id": CHANNEL_BOT_ID, "is_bot": True, "first_name": "Channel"},
                         sender_chat={"id": -1005555, "type": "channel", "title": "Fan Club"})
    fake.push({"message": as_channel})
    anon = message(fake, GROUP, "how long does shipping to Germany take?",
                   from_user={"id": ANON_ADMIN_ID, "is_bot": True, "first_name": "Group"},
                   sender_chat={"id": GROUP, "type": "supergroup", "title": "Voltora fans"},
                   author_signature="Mod Kim")
    fake.push({"message": anon})
    await fake.wait_for(lambda: len(fake.sent(GROUP)) == 3)
    await h.until_handled(3)
    msgs = h.inbound()
    assert len(msgs) == 3
    assert msgs[0].payload["channel_post"] == {"chat_id": -1009999, "message_id": 77,
                                               "discussion_message_id": post["message_id"]}
    with h.app.store.session() as s:
        contacts = {c.external_id: c.display_name for c in s.scalars(select(Contact))}
    assert contacts == {"2001": "Sam", "chat-1005555": "Fan Club", f"chat{GROUP}": "Mod Kim (Voltora fans)"}
    replies = {p["reply_parameters"]["message_id"] for p in fake.sent(GROUP)}
    assert replies == {comment["message_id"], as_channel["message_id"], anon["message_id"]}


async def test_edit_updates_stored_message_and_reaches_the_operator(tg):
    h = await tg()
    fake = h.fake
    notes: list[str] = []
    h.app.pipeline.operators = LocalInbox(notify=notes.append)
    first = message(fake, FAN, "my Pulse 3 started smoking and burned my wrist!!", from_user=user(FAN))
    fake.push({"message": first})
    await fake.wait_for(lambda: len(fake.sent(FAN)) == 1)
    edited = {**first, "text": "my Pulse 3 started smoking and burned my left wrist!!", "edit_date": 1}
    uid = fake.push({"edited_message": edited})
    fake.push({"edited_message": edited}, update_id=uid)  # redelivered edit: applied once
    await fake.wait_for(lambda: h.service.metrics["telegram_edits"] == 1)
    await asyncio.sleep(0.3)
    await h.until_handled(1)
    msgs = h.inbound()
    assert len(msgs) == 1 and msgs[0].text.endswith("left wrist!!")
    assert msgs[0].payload["original_text"].endswith("burned my wrist!!")
    assert len(fake.sent(FAN)) == 1  # no new answer, no second ticket
    with h.app.store.session() as s:
        esc = s.scalars(select(Escalation)).one()
        assert esc.transcript[-1]["edited"] is True and esc.transcript[-1]["text"].endswith("left wrist!!")
    assert sum("(edited)" in n for n in notes) == 1


async def _claimed_by_kim(tg):
    """A fan asks for a human on Telegram; operator "kim" claims the escalation."""
    h = await tg()
    fake = h.fake
    fake.push({"message": message(fake, FAN, "I want to talk to a human", from_user=user(FAN))})
    await fake.wait_for(lambda: len(fake.sent(FAN)) == 1)
    with h.app.store.session() as s:
        esc_id = s.scalars(select(Escalation)).one().id
    assert inbox.claim(h.app.store, esc_id, "kim").ok
    return h, esc_id


async def test_long_operator_reply_is_split_at_4096_utf16_units(tg):
    h, esc_id = await _claimed_by_kim(tg)
    fake = h.fake
    long_text = "a" * 4095 + "👍🏽" + " tail " * 300  # the emoji with its skin tone straddles the limit
    assert inbox.reply(h.app.store, esc_id, "kim", long_text).ok
    await fake.wait_for(lambda: len(fake.sent(FAN)) == 3, timeout=10)
    parts = fake.texts(FAN)[1:]
    assert "".join(parts) == long_text.strip()
    assert all(len(p.encode("utf-16-le")) // 2 <= 4096 for p in parts)
    assert parts[1].startswith("👍🏽")


async def test_long_reply_interrupted_goes_on_from_the_first_part_not_sent(tg):
    """Part 1 of 3 reaches Telegram, part 2 fails: the retry (in this process or, after a crash, in
    another) sends parts 2 and 3 only, because the progress is in the store, not in memory."""
    h, esc_id = await _claimed_by_kim(tg)
    fake = h.fake

    def after_first_part(call):
        if call.method == "sendMessage" and str(call.params.get("text", "")).startswith("bbbb"):
            fake.fail("sendMessage", 502)  # the next part fails
            fake.on_call.remove(after_first_part)

    fake.on_call.append(after_first_part)
    long_text = "b" * 4096 + "c" * 4096 + "d" * 100
    assert inbox.reply(h.app.store, esc_id, "kim", long_text).ok
    await fake.wait_for(lambda: len(fake.calls_of("sendMessage", ok_only=False)) >= 3, timeout=10)
    await fake.wait_for(lambda: len(fake.sent(FAN)) >= 4, timeout=15)
    await asyncio.sleep(0.5)
    parts = fake.texts(FAN)[1:]
    assert parts == ["b" * 4096, "c" * 4096, "d" * 100]


async def test_bot_never_answers_other_bots_or_inactive_groups(tg):
    h = await tg(allowed_chats=[GROUP])
    fake = h.fake
    fake.push({"message": message(fake, -100777, f"@{BOT_USERNAME} hi", from_user=user(2001),
                                  entities=mention(f"@{BOT_USERNAME} hi"))})
    fake.push({"message": message(fake, FAN, "hi", from_user={"id": 5, "is_bot": True, "first_name": "B"})})
    fake.push({"message": message(fake, FAN, "hello!", from_user=user(FAN))})
    await fake.wait_for(lambda: len(fake.sent()) == 1)
    await asyncio.sleep(0.3)
    assert [int(p["chat_id"]) for p in fake.sent()] == [FAN]
    assert BOT_ID not in [int(p["chat_id"]) for p in fake.sent()]
