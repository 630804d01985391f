"""Delivery guarantees against the fake Bot API: duplicates, 429 / 5xx, webhook checks, SIGKILL."""

from __future__ import annotations

import asyncio
import signal

import aiohttp
import pytest
from sqlalchemy import select

from bot.store import Conversation, Message, Store
from tests.bot.channels.telegram_harness import telegram_config
from tests.bot.processes import FancareProcesses
from tests.conftest import write_config
from tests.fakes.telegram_server import TOKEN, message, user

FAQ = "how long does shipping to Germany take?"


async def test_duplicate_update_ids_are_answered_once(tg):
    h = await tg()
    fake = h.fake
    update = {"message": message(fake, 1001, FAQ, from_user=user(1001))}
    uid = fake.push(update)
    fake.push(update, update_id=uid)  # Telegram delivering the same update twice
    await fake.wait_for(lambda: len(fake.sent(1001)) == 1)
    await h.until_handled(1)
    fake.push(update, update_id=uid)  # and again later, after it was answered
    fake.push({"message": message(fake, 1002, "hello!", from_user=user(1002))})
    await fake.wait_for(lambda: len(fake.sent(1002)) == 1)
    await asyncio.sleep(0.3)
    assert len(fake.sent(1001)) == 1
    assert [m.external_id for m in h.inbound()] == [str(uid), str(uid + 1)]
    assert h.service.metrics["duplicates"] >= 1


async def test_429_retry_after_is_honoured(tg):
    h = await tg()
    fake = h.fake
    fake.fail("sendMessage", 429, retry_after=1)
    fake.push({"message": message(fake, 1001, FAQ, from_user=user(1001))})
    await fake.wait_for(lambda: len(fake.sent(1001)) == 1, timeout=15)
    calls = fake.calls_of("sendMessage", ok_only=False)
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 0.95  # not before Telegram said so


async def test_429_storm_every_fan_answered_once_in_order(tg):
    h = await tg()
    fake = h.fake
    fake.fail("sendMessage", 429, retry_after=1, times=6)
    fans = [1001, 1002, 1003]
    for f in fans:
        fake.push({"message": message(fake, f, "where is my order?", from_user=user(f))})
        fake.push({"message": message(fake, f, "VT-482913", from_user=user(f))})
    await fake.wait_for(lambda: all(len(fake.sent(f)) == 2 for f in fans), timeout=30)
    await asyncio.sleep(0.3)
    for f in fans:
        texts = fake.texts(f)
        assert len(texts) == 2 and "order number" in texts[0] and "email address or postcode" in texts[1]  # in order
    assert len(fake.calls_of("sendMessage", ok_only=False)) == 6 + 6


async def test_5xx_is_retried_with_backoff(tg):
    h = await tg()
    fake = h.fake
    fake.fail("sendMessage", 502)
    fake.push({"message": message(fake, 1001, FAQ, from_user=user(1001))})
    await fake.wait_for(lambda: len(fake.sent(1001)) == 1, timeout=15)
    calls = fake.calls_of("sendMessage", ok_only=False)
    assert [c.status for c in calls] == [502, 200]
    assert calls[1].at - calls[0].at >= 1.0
    assert h.app.pipeline.metrics["send_retries"] == 1


async def test_webhook_checks_secret_and_size_and_acks_fast(tg, monkeypatch):
    monkeypatch.setenv("FANCARE_TEST_TG_SECRET", "s3cret-Token_1")
    h = await tg(mode="webhook", webhook={"port": 0, "secret_token": "${FANCARE_TEST_TG_SECRET}",
                                          "url": "https://bot.example.com/telegram", "max_body_bytes": 4096})
    fake = h.fake
    assert fake.webhook["url"] == "https://bot.example.com/telegram"
    assert fake.webhook["secret_token"] == "s3cret-Token_1"
    url = f"http://127.0.0.1:{h.service.webhook_port}/telegram"
    update = {"update_id": 555, "message": message(fake, 1001, FAQ, from_user=user(1001))}
    good = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=update) as r:
            assert r.status == 403
        async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as r:
            assert r.status == 403
        big = {**update, "padding": "x" * 5000}
        async with http.post(url, json=big, headers=good) as r:
            assert r.status == 413
        assert h.inbound() == []
        # acked before the NLU and the reply: the NLU is held until the 200 is in (no clock involved: a
        # loaded machine once took over the 0.5 s this used to allow)
        understood = asyncio.Event()
        parse = h.app.pipeline.nlu.parse

        async def held(*args, **kwargs):
            await understood.wait()
            return await parse(*args, **kwargs)

        monkeypatch.setattr(h.app.pipeline.nlu, "parse", held)
        async with http.post(url, json=update, headers=good) as r:
            assert r.status == 200
        assert len(h.inbound()) == 1  # ...but only after it was recorded
        assert fake.sent(1001) == []
        understood.set()
        async with http.post(url, json=update, headers=good) as r:  # redelivery
            assert r.status == 200
    await fake.wait_for(lambda: len(fake.sent(1001)) == 1)
    await h.until_handled(1)
    await asyncio.sleep(0.3)
    assert len(fake.sent(1001)) == 1


async def test_per_chat_rate_limit(tg):
    from bot import inbox

    h = await tg(rate_limits={"chat_per_s": 2})
    fake = h.fake
    fake.push({"message": message(fake, 1001, "I want to talk to a human", from_user=user(1001))})
    await fake.wait_for(lambda: len(fake.sent(1001)) == 1)
    with h.app.store.session() as s:
        from bot.store import Escalation

        esc_id = s.scalars(select(Escalation)).one().id
    inbox.claim(h.app.store, esc_id, "kim")
    await asyncio.sleep(3.1)  # let the bucket refill
    for i in range(9):
        inbox.reply(h.app.store, esc_id, "kim", f"part {i}")
    await fake.wait_for(lambda: len(fake.sent(1001)) == 10, timeout=15)
    times = [c.at for c in fake.calls_of("sendMessage")][1:]
    assert fake.texts(1001)[1:] == [f"part {i}" for i in range(9)]
    assert times[-1] - times[0] >= 1.2  # a burst of 6, then 2 per second


# -- crash safety ---------------------------------------------------------------------------------
@pytest.mark.timeout(600)
async def test_sigkill_mid_send_and_restart_answers_every_message_once(telegram_server, tmp_path, store_url,
                                                                     model_dir):
    fake = telegram_server
    config = str(write_config(tmp_path, store_url, model_dir, channels={"telegram": telegram_config(fake)}))
    log_path = tmp_path / "run.log"
    run = ["run", "--config", config]
    fans = list(range(3001, 3009))
    for f in fans:
        fake.push({"message": message(fake, f, FAQ, from_user=user(f))})

    def arm(call: object) -> None:  # after 3 answers, the 4th is delivered but its ack is lost
        if len(fake.sent()) == 3 and not fake.hung_deliveries:
            fake.hang_after_delivery("sendMessage")
            fake.on_call.clear()

    fake.on_call.append(arm)
    async with FancareProcesses() as processes:
        proc = processes.fancare(run, log_path)
        await fake.wait_for(lambda: fake.hung_deliveries == 1, timeout=120)
        more = list(range(3009, 3012))
        for f in more:
            fake.push({"message": message(fake, f, FAQ, from_user=user(f))})
        await asyncio.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # the fake Bot API serves on this event loop, which proc.wait blocked: let it record every request
        # that reached it before the kill (one read while it still waited saw a send as "not delivered",
        # and its re-send after the restart as a duplicate of nothing)
        await asyncio.sleep(0.5)
        delivered_before_kill = {f: len(fake.sent(f)) for f in fans + more}
        # the offset confirmed to Telegram never runs ahead of what the store holds
        store = Store(store_url if not store_url.startswith("sqlite") else store_url)
        with store.session() as s:
            recorded = {int(m.external_id) for m in s.scalars(select(Message).where(Message.direction == "in"))}
            # sends in flight at the kill: leased ("sending") but not recorded as sent
            in_flight = {int(chat) for chat in s.scalars(
                select(Conversation.chat_id).join(Message, Message.conversation_id == Conversation.id)
                .where(Message.direction == "out", Message.status == "sending"))}
        store.dispose()
        confirmed = [u for u in range(1000, fake.confirmed_offset)]
        assert set(confirmed) <= recorded
        late = [3012, 3013]
        for f in late:  # written while fancare is down
            fake.push({"message": message(fake, f, FAQ, from_user=user(f))})
        everyone = fans + more + late
        proc = processes.fancare(run, log_path)
        await fake.wait_for(lambda: all(fake.sent(f) for f in everyone), timeout=180)

        watch = Store(store_url)

        def outbox_settled() -> bool:
            # the send whose ack was lost stays leased ("sending") until its lease expires; then it is
            # re-sent: wait for that, not only for every fan to have a reply
            with watch.session() as s:
                out = list(s.scalars(select(Message.status).where(Message.direction == "out")))
            return len(out) == len(everyone) and all(x == "sent" for x in out)

        try:
            await fake.wait_for(outbox_settled, timeout=180)
        finally:
            watch.dispose()
        await asyncio.sleep(1.0)
        counts = {f: len(fake.sent(f)) for f in everyone}
        assert all(1 <= n <= 2 for n in counts.values()), counts  # at most one duplicate per message
        # A duplicate can only come from the window Telegram gives no idempotency for: a send that
        # reached Telegram before the kill but was not yet recorded as sent (the hung one, plus any
        # other send in flight at that instant).
        dups = [f for f, n in counts.items() if n == 2]
        assert all(delivered_before_kill.get(f, 0) >= 1 for f in dups), (counts, delivered_before_kill)
        assert set(dups) <= in_flight, (counts, in_flight)  # only sends the kill caught in flight
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0  # drains and exits cleanly
    log_text = log_path.read_text(encoding="utf-8", errors="replace")
    assert TOKEN not in log_text and TOKEN.split(":")[1] not in log_text
    assert FAQ not in log_text
    store = Store(store_url)
    with store.session() as s:
        msgs = list(s.scalars(select(Message)))
    store.dispose()
    assert sum(m.direction == "in" for m in msgs) == len(everyone)
    assert all(m.status == "handled" for m in msgs if m.direction == "in")
    assert all(m.status == "sent" for m in msgs if m.direction == "out")
    assert sum(m.direction == "out" for m in msgs) == len(everyone)
