"""Issue 12 item 6, delivery fixes, end to end through the fake Bot API: the send lease survives a
wait in the rate limiter, 429s never near the dead letter, inbound retries are capped, the outbox
scan cannot starve."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

import bot.pipeline as pipeline_mod
from bot.store import AuditEvent, Conversation, Message
from tests.fakes.telegram_server import message, user

FAQ = "how long does shipping to Germany take?"


async def test_a_reply_waiting_in_the_rate_limiter_keeps_its_lease_and_goes_out_once(tg):
    # about one message per 3 s in a private chat; the send lease is far shorter than that wait
    h = await tg(rate_limits={"chat_per_s": 0.34})
    h.app.pipeline.send_lease_s = 1.5
    fake = h.fake
    fake.push({"message": message(fake, 1001, FAQ, from_user=user(1001))})
    fake.push({"message": message(fake, 1001, "hello!", from_user=user(1001))})
    fake.push({"message": message(fake, 1001, "where is my order?", from_user=user(1001))})
    await h.until_handled(3, timeout=30)
    await asyncio.sleep(0.5)
    calls = fake.calls_of("sendMessage", ok_only=False)
    texts = [c.params.get("text") for c in calls]
    assert len(calls) == len(set(texts)) == 3, texts  # each reply sent once, none claimed twice
    assert calls[-1].at - calls[0].at >= 5.0  # they really waited in the limiter, longer than the lease


async def test_429s_never_count_towards_the_dead_letter_limit(tg, monkeypatch):
    monkeypatch.setattr(pipeline_mod, "MAX_SEND_ATTEMPTS", 2)
    h = await tg()
    fake = h.fake
    fake.fail("sendMessage", 429, retry_after=1, times=3)
    fake.push({"message": message(fake, 1001, FAQ, from_user=user(1001))})
    await fake.wait_for(lambda: len(fake.sent(1001)) == 1, timeout=20)
    await h.until_handled(1)
    assert [c.status for c in fake.calls_of("sendMessage", ok_only=False)] == [429] * 3 + [200]
    with h.app.store.session() as s:
        out = s.scalars(select(Message).where(Message.direction == "out")).one()
        assert out.status == "sent" and out.attempts == 1


async def test_an_inbound_message_that_always_fails_is_dead_lettered_and_the_operators_told(tg, monkeypatch):
    h = await tg()
    p = h.app.pipeline
    p.inbound_lease_s = 0.0  # a failed try is re-claimable at once
    notes: list[str] = []

    async def note(text: str) -> None:
        notes.append(text)

    monkeypatch.setattr(p.operators, "note", note, raising=False)
    real_commit = p._commit

    def commit(message_id: int, *args: Any, **kwargs: Any) -> Any:
        with p.store.session() as s:
            if s.get(Message, message_id).text == "poison":  # type: ignore[union-attr]
                raise RuntimeError("cannot commit this one")
        return real_commit(message_id, *args, **kwargs)

    monkeypatch.setattr(p, "_commit", commit)
    fake = h.fake
    fake.push({"message": message(fake, 1001, "poison", from_user=user(1001))})
    fake.push({"message": message(fake, 1002, FAQ, from_user=user(1002))})
    await fake.wait_for(lambda: len(fake.sent(1002)) == 1)
    for _ in range(pipeline_mod.MAX_INBOUND_ATTEMPTS + 2):
        await asyncio.sleep(0.01)
        await p.recover()
    with p.store.session() as s:
        poison = s.scalars(select(Message).where(Message.direction == "in", Message.text == "poison")).one()
        assert poison.status == "dead" and poison.attempts == pipeline_mod.MAX_INBOUND_ATTEMPTS
        assert s.scalars(select(AuditEvent).where(AuditEvent.kind == "inbound.dead")).one()
    assert p.metrics["inbound_dead"] == 1
    assert len(notes) == 1 and "could not be processed" in notes[0]
    assert p.store.unfinished_inbound() == []  # not retried any more
    assert fake.sent(1001) == []


async def test_a_retrying_head_does_not_starve_the_outbox(tg):
    h = await tg()
    p = h.app.pipeline
    store = p.store
    fake = h.fake
    # fan 1001's reply is waiting for its retry time; 60 more replies queue behind it
    blocked = store.record_inbound(channel="telegram", external_id="x1", chat_id="1001", user_id="1001", text="hi")
    other = store.record_inbound(channel="telegram", external_id="x2", chat_id="1002", user_id="1002", text="hi")
    with store.session() as s:
        conv = s.get(Conversation, blocked.conversation_id)
        head = store.add_outbound(s, conv, "the head")  # type: ignore[arg-type]
        head.next_attempt_at = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)
        for i in range(60):
            store.add_outbound(s, conv, f"queued {i}")  # type: ignore[arg-type]
        store.add_outbound(s, s.get(Conversation, other.conversation_id), "for the other fan")  # type: ignore[arg-type]
    # the outbox poller (run_outbox) scans past the 61 rows of the blocked conversation
    await fake.wait_for(lambda: fake.texts(1002) == ["for the other fan"], timeout=10)
    assert fake.sent(1001) == []
    assert store.claim_outbound() == []


async def test_a_name_with_a_lone_surrogate_is_cleaned_and_everyone_is_answered(tg):
    h = await tg()
    fake = h.fake
    odd = {**user(1001), "last_name": "\ud800"}
    fake.push({"message": message(fake, 1001, "hello!", from_user=odd)})
    fake.push({"message": message(fake, 1002, FAQ, from_user=user(1002))})
    await fake.wait_for(lambda: len(fake.sent(1002)) == 1 and len(fake.sent(1001)) == 1, timeout=20)
    with h.app.store.session() as s:
        from bot.store import Contact

        names = {c.external_id: c.display_name for c in s.scalars(select(Contact))}
    assert names["1001"] == "Sam \ufffd\ufffd\ufffd" and names["1002"] == "Sam"
    assert h.service.metrics["telegram_quarantined"] == 0


async def test_an_update_that_cannot_be_recorded_is_quarantined_and_the_loop_moves_on(tg, monkeypatch):
    h = await tg()
    fake = h.fake
    store = h.app.store
    real = store.record_inbound
    tries: list[str] = []

    def record(**kw: Any) -> Any:
        if kw["text"] == "unrecordable":
            tries.append(kw["external_id"])
            raise ValueError("the database refuses this one")
        return real(**kw)

    monkeypatch.setattr(store, "record_inbound", record)
    bad = fake.push({"message": message(fake, 1001, "unrecordable", from_user={**user(1001), "last_name": "\ud800"})})
    fake.push({"message": message(fake, 1002, FAQ, from_user=user(1002))})
    await fake.wait_for(lambda: len(fake.sent(1002)) == 1, timeout=20)
    await asyncio.sleep(1.5)  # a few more polls: the bad update is not fetched again
    assert tries == [str(bad)]
    assert h.service.metrics["telegram_quarantined"] == 1
    with store.session() as s:
        q = s.scalars(select(AuditEvent).where(AuditEvent.kind == "telegram.quarantined")).one()
    assert q.data["update_id"] == bad and q.data["error"] == "ValueError"
    raw = json.loads(q.data["raw"])
    assert raw["message"]["text"] == "unrecordable" and raw["message"]["from"]["last_name"] == "\ud800"
    assert fake.sent(1001) == []


async def test_replies_never_preview_links(tg):
    h = await tg()
    fake = h.fake
    fake.push({"message": message(fake, 1001, FAQ, from_user=user(1001))})
    await fake.wait_for(lambda: len(fake.sent(1001)) == 1)
    opts = fake.sent(1001)[0]["link_preview_options"]
    assert (json.loads(opts) if isinstance(opts, str) else opts)["is_disabled"] is True


async def test_greetings_drop_bidi_overrides_and_control_characters_from_names(tg):
    h = await tg()
    fake = h.fake
    fake.push({"message": message(fake, 1001, "/start", from_user={**user(1001, first_name="Sam\u202e\u0007"),
                                                                  "last_name": "\u2066evil\u200b"})})
    await h.until_handled(1)
    with h.app.store.session() as s:
        from bot.store import Contact

        assert s.scalars(select(Contact)).one().display_name == "Sam evil"
    for text in fake.texts(1001):
        assert not any(c in text for c in "\u202e\u2066\u200b\u0007")
