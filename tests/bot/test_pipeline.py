"""The pipeline end to end with the real model and store (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.channels.base import RetryableSendError
from bot.store import Escalation, Message, NLUResult
from tests.fakes.recording_channel import RecordingChannel, fan_message


async def test_faq_answer_names_its_article(app):
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    res = await app.pipeline.handle(fan_message("how long does shipping to Germany take?"))
    assert res.debug["intent"] == "faq"
    assert res.debug["article"] == "shipping-times"
    assert "How long does shipping take?" in ch.texts()[0]


async def test_same_message_delivered_twice_is_answered_once(app):
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    msg = fan_message("hello!", ext="dup-1")
    first = await app.pipeline.handle(msg)
    second = await app.pipeline.handle(msg)
    assert not first.duplicate and second.duplicate
    assert len(ch.sent) == 1
    with app.store.session() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 1


async def test_concurrent_duplicates_are_answered_once(app):
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    msg = fan_message("hi there", ext="dup-2")
    await asyncio.gather(*(app.pipeline.handle(msg) for _ in range(5)))
    assert len(ch.sent) == 1


async def test_order_form_asks_validates_and_looks_up(app):
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    await app.pipeline.handle(fan_message("where is my order?"))
    assert "order number" in ch.texts()[-1]
    await app.pipeline.handle(fan_message("it's in the email I think"))
    assert "VT-123456" in ch.texts()[-1]  # re-asks with the expected format
    await app.pipeline.handle(fan_message("vt 482913"))
    assert "email address or postcode" in ch.texts()[-1] and "shipped" not in ch.texts()[-1]  # orders.verify
    await app.pipeline.handle(fan_message("maya.lopez@example.com"))
    assert "VT-482913" in ch.texts()[-1] and "shipped" in ch.texts()[-1]


async def test_unknown_order_number_reads_like_someone_elses_order(app):
    """With orders.verify on, "no such order" would tell a guesser which numbers exist."""
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    await app.pipeline.handle(fan_message("where is my order VT-999999"))
    assert "email address or postcode" in ch.texts()[-1]
    await app.pipeline.handle(fan_message("maya.lopez@example.com"))
    assert "doesn't match our records" in ch.texts()[-1] and "couldn't find" not in ch.texts()[-1]


async def test_crisis_escalates_urgently_and_bot_goes_quiet(app):
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    await app.pipeline.handle(fan_message("my Pulse 3 started smoking and burned my wrist!!"))
    assert "urgent" in ch.texts()[-1]
    with app.store.session() as s:
        esc = s.scalars(select(Escalation)).one()
        assert (esc.queue, esc.priority, esc.state) == ("crisis", "urgent", "open")
        assert esc.transcript[-1]["text"].startswith("my Pulse 3")
    n = len(ch.sent)
    await app.pipeline.handle(fan_message("hello?"))
    await app.pipeline.handle(fan_message("anyone there?"))
    # one acknowledgement while unclaimed, then silence; messages are relayed into the ticket
    assert len(ch.sent) == n + 1
    with app.store.session() as s:
        esc = s.scalars(select(Escalation)).one()
        assert [t["text"] for t in esc.transcript[-2:]] == ["hello?", "anyone there?"]


async def test_failure_in_a_step_apologises_and_keeps_the_message(app):
    class BrokenShop:
        def get(self, order_number):
            raise ConnectionError("shop API down")

    from bot.operators import LocalInbox
    from dialogs.builtin_actions import builtin_actions

    builtin_actions(app.actions, orders=BrokenShop(), kb=app.kb)  # the flow's order lookup now fails
    notes: list[str] = []
    app.pipeline.operators = LocalInbox(notify=notes.append)
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    res = await app.pipeline.handle(fan_message("where is my order VT-482913?"))
    assert "something went wrong" in ch.texts()[-1]
    assert any("action_lookup_order failed" in n and "ConnectionError" in n for n in notes)  # the team hears of it
    with app.store.session() as s:
        m = s.get(Message, res.message_id)
        assert m.status == "handled" and "VT-482913" in m.text


async def test_hostile_inputs_are_stored_and_answered(app):
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    inputs = ["", "x" * 100_000, "\x00\x07\x1b[31mred\x1b[0m", "bad \ud800 surrogate", "🔥🔥🔥",
              "مرحبا، أين طلبي؟", "<b>hi</b> <!channel> [link](http://evil.example) *bold*", "\u202egnp.exe"]
    for text in inputs:
        res = await app.pipeline.handle(fan_message(text))
        # every message gets a reply, except what the NLU files as spam/abuse (kept for moderation)
        assert res.replies >= 1 or res.debug["action"] == "silent", text[:20]
    with app.store.session() as s:
        stored = list(s.scalars(select(Message.text).where(Message.direction == "in").order_by(Message.id)))
    assert len(stored) == len(inputs)
    assert len(stored[1]) == 100_000
    assert "\ufffd" in stored[3] and "\x00" not in stored[2]
    assert all(t for t in ch.texts())


async def test_send_failures_are_retried_in_order(app):
    ch = RecordingChannel(fail_next=[RetryableSendError("429", retry_after=0)])
    app.pipeline.add_channel(ch)
    await app.pipeline.handle(fan_message("hi"))
    assert ch.sent == []
    await app.pipeline.dispatch()
    assert len(ch.sent) == 1


async def test_nlu_result_is_stored(app):
    app.pipeline.add_channel(RecordingChannel())
    res = await app.pipeline.handle(fan_message("thank you so much!"))
    with app.store.session() as s:
        r = s.scalars(select(NLUResult).where(NLUResult.message_id == res.message_id)).one()
        assert r.intent == "thanks" and r.confidence > 0.5
