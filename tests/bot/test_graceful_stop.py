"""A stop within `ops.stop_deadline_s` with a real `fancare run` process and the fake Bot API.

30 replies queued for one group are paced by Telegram's 20-per-minute group limit (a burst of 20,
then one every 3 s: half a minute to drain). SIGTERM must not wait for that: the process exits within
the deadline with code 0, the unsent replies stay in the outbox, and the next start sends them, each
exactly once. The first run also logs in JSON, which must parse and carry no secret."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.store import Conversation, Message, Store
from tests.bot.channels.telegram_harness import telegram_config
from tests.bot.processes import FancareProcesses, logged
from tests.conftest import write_config
from tests.fakes.telegram_server import TOKEN, FakeTelegram

GROUP = -100555
REPLIES = 30
DEADLINE_S = 8.0


def _seed(store_url: str) -> list[str]:
    """A group conversation whose fan message is handled and whose 30 replies wait in the outbox."""
    store = Store(store_url)
    store.migrate()
    rec = store.record_inbound(channel="telegram", external_id="seed-1", chat_id=str(GROUP), user_id="4242",
                               text="giveaway results?", display_name="Sam", payload={"chat_type": "supergroup"})
    texts = [f"Reply number {i:02d} to the group" for i in range(REPLIES)]
    with store.session() as s:
        msg = s.get(Message, rec.message_id)
        conv = s.get(Conversation, rec.conversation_id)
        assert msg is not None and conv is not None
        msg.status = "handled"
        for t in texts:
            store.add_outbound(s, conv, t)
    store.dispose()
    return texts


def _outbox(store_url: str) -> Counter[str]:
    store = Store(store_url)
    with store.session() as s:
        out = Counter(s.scalars(select(Message.status).where(Message.direction == "out")))
    store.dispose()
    return out


def _ops_port(log_path: Path) -> int:
    m = logged(log_path, r"ops endpoint listening on http://127\.0\.0\.1:(\d+)")
    if m is None:
        raise AssertionError("the ops endpoint did not log its port")
    return int(m.group(1))


@pytest.mark.timeout(600)
async def test_sigterm_with_a_group_backlog_exits_within_the_deadline_and_a_restart_sends_the_rest(
        telegram_server: FakeTelegram, tmp_path: Path, store_url: str, model_dir: Path) -> None:
    fake = telegram_server
    texts = _seed(store_url)
    paced = telegram_config(fake)  # Telegram's own group limit: 20 per minute
    config = write_config(tmp_path, store_url, model_dir, channels={"telegram": paced},
                          ops={"port": 0, "stop_deadline_s": DEADLINE_S}, logging={"format": "json"})
    log_path = tmp_path / "run.log"
    async with FancareProcesses() as processes:
        proc = processes.fancare(["run", "--config", str(config)], log_path)
        await fake.wait_for(lambda: len(fake.sent(GROUP)) >= 21, timeout=300)  # the burst is out, pacing began
        port = _ops_port(log_path)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                ready = (r.status, json.loads(await r.text()))
            async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                metrics = await r.text()
        assert ready[0] == 200 and ready[1]["checks"]["channel:telegram"]["ok"], ready
        depth = next(ln for ln in metrics.splitlines() if ln.startswith("fancare_outbound_queue_depth "))
        assert float(depth.split()[1]) >= 1  # the paced backlog, read from the store at scrape time
        proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        rc = await asyncio.to_thread(proc.wait, 30)
        took = time.monotonic() - t0
    assert rc == 0
    assert took <= DEADLINE_S + 0.5, f"stopped after {took:.1f} s"
    delivered = len(fake.sent(GROUP))
    assert delivered < REPLIES  # the backlog was not drained at the group limit's pace
    left = _outbox(store_url)
    assert left["sent"] == delivered and left["pending"] + left["sending"] == REPLIES - delivered, left

    lines = [ln for ln in log_path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.startswith("{")]
    records = [json.loads(ln) for ln in lines]
    assert any(r["message"].startswith("stopping: no new work") for r in records)
    assert any("replies left in the outbox" in r["message"] for r in records)
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    whole = log_path.read_text(encoding="utf-8", errors="replace")
    assert TOKEN not in whole and TOKEN.split(":")[1] not in whole

    lifted = telegram_config(fake, rate_limits={"chat_per_s": 50, "group_per_min": 6000})
    config = write_config(tmp_path, store_url, model_dir, channels={"telegram": lifted},
                          ops={"port": 0, "stop_deadline_s": DEADLINE_S})
    async with FancareProcesses() as processes:
        proc = processes.fancare(["run", "--config", str(config)], log_path)
        # a send cut off while waiting in the limiter stays leased (30 s) before it is retried
        await fake.wait_for(lambda: len(fake.sent(GROUP)) >= REPLIES, timeout=300)
        await asyncio.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
    got = Counter(m["text"] for m in fake.sent(GROUP))
    assert sorted(got) == sorted(texts) and set(got.values()) == {1}, got  # each exactly once
    assert [m["text"] for m in fake.sent(GROUP)] == texts  # and in order
    assert _outbox(store_url) == Counter({"sent": REPLIES})
