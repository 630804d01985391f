"""Send-rate limits shared by every process on one store (bot/ops/rate_limits.py).

The arithmetic is checked on SQLite with a controlled clock; the claim that matters, that several
workers together keep the limit, is checked with 3 real processes on one PostgreSQL sending through
the real `build_bot` / `TelegramChannel.send` to the fake Bot API, counting arrivals at the fake.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bot.channels.telegram import TelegramChannel, build_bot
from bot.config import TelegramConfig
from bot.ops.rate_limits import Limit, SharedRateLimiter, SharedTelegramLimits, shared_limits_wanted, telegram_limits
from bot.store import Store
from dialogs.domain import Outgoing
from tests.bot.processes import run_together
from tests.conftest import PG_URL
from tests.fakes.telegram_server import TOKEN, FakeTelegram

GROUP = -100500
LIMITS = {"overall_per_s": 20.0, "group_per_min": 60.0, "chat_per_s": 1.0, "shared": True}
WORKERS, GROUP_SENDS, PRIVATE_SENDS = 3, 4, 25


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Any:
    s = Store(f"sqlite:///{tmp_path / 'fancare.db'}")
    s.migrate()
    yield s
    s.dispose()


def test_limit_within_keeps_the_count_in_every_window_burst_included() -> None:
    overall, group, chat = telegram_limits(30, 20, 1)
    for lim, count, period in ((overall, 30, 1.0), (group, 20, 60.0)):
        assert math.ceil(period / lim.interval_s - 1e-9) + lim.burst - 1 <= count
    assert (chat.interval_s, chat.burst) == (1.0, 3)
    assert Limit.within(0.5, 1.0, 3) == Limit(2.0, 1)  # under one per period: no burst, one per 2 s
    assert Limit.within(2, 60.0, 3) == Limit(60.0, 2)  # the burst never exceeds the count
    with pytest.raises(ValueError, match="interval_s > 0"):
        Limit(0.0)


def test_gcra_on_sqlite_allows_the_burst_then_paces(sqlite_store: Store) -> None:
    clock = Clock()
    lim = SharedRateLimiter(sqlite_store, clock=clock)
    key = [("k", Limit(0.5, burst=3))]
    waits = [lim.reserve(key) for _ in range(6)]
    assert waits == pytest.approx([0, 0, 0, 0.5, 1.0, 1.5])
    clock.t += 10  # idle: the burst is available again, never more
    assert [lim.reserve(key) for _ in range(4)] == pytest.approx([0, 0, 0, 0.5])


def test_a_send_waits_for_the_slowest_of_its_keys_and_the_overall_key_counts_it_then(sqlite_store: Store) -> None:
    clock = Clock()
    lim = SharedRateLimiter(sqlite_store, clock=clock)
    group, overall = ("g", Limit(3.0)), ("all", Limit(0.1))
    assert lim.reserve([group, overall]) == 0
    assert lim.reserve([group, overall]) == pytest.approx(3.0)  # the group's pace
    # the group's backlog holds no overall slot in the future: a private reply goes out after the two
    # overall slots already taken, not behind the group
    assert lim.reserve([("c", Limit(1.0)), overall]) == pytest.approx(0.2)


def test_retry_after_pushes_every_worker_back(sqlite_store: Store) -> None:
    clock = Clock()
    lim = SharedRateLimiter(sqlite_store, clock=clock)
    key = [("all", Limit(0.1))]
    lim.reserve(key)
    lim.push_back(["all"], 5.0)
    assert lim.reserve(key) == pytest.approx(5.0)
    clock.t += 2 * 3600
    assert lim.prune() == 1


def test_keys_follow_telegram_limits(sqlite_store: Store) -> None:
    overall, group, chat = telegram_limits(30, 20, 1)
    ptb = SharedTelegramLimits(SharedRateLimiter(sqlite_store), "42", overall, group, chat)
    assert [k for k, _ in ptb.keys("sendMessage", -100123)] == ["tg:42:group:-100123", "tg:42:all"]
    assert [k for k, _ in ptb.keys("sendMessage", "@brandchannel")] == ["tg:42:group:@brandchannel", "tg:42:all"]
    assert [k for k, _ in ptb.keys("sendMessage", "777")] == ["tg:42:chat:777", "tg:42:all"]
    assert [k for k, _ in ptb.keys("sendChatAction", 777)] == ["tg:42:all"]  # typing is not a message
    assert ptb.keys("answerCallbackQuery", None) == []


def test_shared_is_the_postgresql_default_and_sqlite_stays_in_process(sqlite_store: Store, tmp_path: Path) -> None:
    assert not shared_limits_wanted("auto", sqlite_store)
    assert shared_limits_wanted(True, sqlite_store)
    cfg = TelegramConfig(token=TOKEN)
    assert not isinstance(build_bot(cfg, sqlite_store).rate_limiter, SharedTelegramLimits)
    cfg = TelegramConfig(token=TOKEN, rate_limits={"shared": True})
    bot = build_bot(cfg, sqlite_store)
    assert isinstance(bot.rate_limiter, SharedTelegramLimits)
    assert bot.rate_limiter.keys("sendMessage", 1)[-1][0] == "tg:123456789:all"  # the bot id, never the token


async def test_a_shared_send_goes_through_the_fake_and_skips_the_in_process_chat_limiter(
        sqlite_store: Store, telegram_server: FakeTelegram) -> None:
    cfg = TelegramConfig(token=TOKEN, base_url=telegram_server.base_url, rate_limits={**LIMITS, "chat_per_s": 0.5})
    bot = build_bot(cfg, sqlite_store)
    channel = TelegramChannel(bot, cfg)
    async with bot:
        for i in range(4):
            await channel.send("5001", Outgoing(text=f"m{i}"))
    at = [c.at for c in telegram_server.calls_of("sendMessage")]
    assert len(at) == 4 and at[3] - at[0] >= 1.9  # burst of 3, then the chat's pace of 2 s
    assert not channel._chat_limiters


# -- several processes on one PostgreSQL -----------------------------------------------------------

def _max_in_window(times: list[float], width: float) -> int:
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - width:
            j += 1
        best = max(best, i - j + 1)
    return best


async def _worker(url: str, base_url: str, worker: int, start_at: float) -> None:
    store = Store(url)
    cfg = TelegramConfig(token=TOKEN, base_url=base_url, rate_limits=LIMITS, max_concurrency=64)
    bot = build_bot(cfg, store)
    channel = TelegramChannel(bot, cfg)
    async with bot:
        await bot.get_me()  # connected (no chat: not rate limited) before the clock starts
        await asyncio.sleep(max(0.0, start_at - time.time()))  # the three workers start together
        sends = [channel.send(str(GROUP), Outgoing(text=f"w{worker} group {i}")) for i in range(GROUP_SENDS)]
        sends += [channel.send(str(9000 + worker * 100 + i), Outgoing(text=f"w{worker} fan {i}"))
                  for i in range(PRIVATE_SENDS)]
        await asyncio.gather(*sends)
    assert isinstance(bot.rate_limiter, SharedTelegramLimits)
    print(json.dumps({"worker": worker, "waited_s": bot.rate_limiter.waited_s}))
    store.dispose()


@pytest.mark.postgres
def test_a_reservation_is_one_statement_on_postgresql_with_the_database_clock() -> None:
    if not PG_URL:
        pytest.skip("FANCARE_TEST_POSTGRES_URL not set (run through scripts/with-postgres.sh)")
    from sqlalchemy import event

    store = Store(PG_URL)
    store.migrate()
    lim = SharedRateLimiter(store)
    lim.reserve([("warm-up", Limit(1.0))])  # the pool's first connection
    statements: list[str] = []
    event.listen(lim._engine, "before_cursor_execute", lambda _c, _cur, sql, *_a: statements.append(sql))
    keys = [(f"tg:one-trip:{os.getpid()}:chat", Limit(0.5, burst=3)), (f"tg:one-trip:{os.getpid()}:all", Limit(0.01))]
    waits = [lim.reserve(keys) for _ in range(4)]
    assert len(statements) == 4  # autocommit, no pre-ping: one round trip per send
    assert max(waits[:3]) < 0.05 and 0.35 < waits[3] <= 0.5
    lim.close()
    store.dispose()


@pytest.mark.postgres
async def test_three_workers_together_keep_the_overall_and_group_limits(telegram_server: FakeTelegram) -> None:
    if not PG_URL:
        pytest.skip("FANCARE_TEST_POSTGRES_URL not set (run through scripts/with-postgres.sh)")
    store = Store(PG_URL)
    store.migrate()
    with store.session() as s:
        from sqlalchemy import delete

        from bot.store.scale_models import RateSlot

        s.execute(delete(RateSlot))
    store.dispose()
    start_at = time.time() + 8.0  # after every worker has imported and connected
    await run_together("tests.bot.test_shared_limits", [
        [PG_URL, telegram_server.base_url, str(w), str(start_at)] for w in range(WORKERS)], 180)

    sent = telegram_server.calls_of("sendMessage")
    texts = [c.params["text"] for c in sent]
    assert len(texts) == len(set(texts)) == WORKERS * (GROUP_SENDS + PRIVATE_SENDS)  # each once
    overall, group, _ = telegram_limits(LIMITS["overall_per_s"], LIMITS["group_per_min"], LIMITS["chat_per_s"])
    jitter = 0.1  # request latency varies a little between a slot and its arrival at the fake
    everything = [c.at for c in sent]
    in_group = [c.at for c in sent if int(c.params["chat_id"]) == GROUP]
    # overall: never more than the configured 20 in any second, across all three workers together, plus
    # at most one group send that waited for its group's pace (it holds an overall slot from when it asked)
    assert _max_in_window(everything, 1.0 - jitter) <= LIMITS["overall_per_s"] + 1
    # the group: GCRA's pace (per-process limiters would have let all 12 out at once, 3 x 4)
    assert _max_in_window(in_group, 3.0 - 3 * jitter) <= math.ceil(3.0 / group.interval_s) + group.burst - 1
    # and the limits bind (a worker's first request also opens its connection: a second of slack)
    assert max(in_group) - min(in_group) >= (len(in_group) - group.burst) * group.interval_s - 1.0
    assert max(everything) - min(everything) >= (len(everything) - overall.burst) * overall.interval_s - 1.0


if __name__ == "__main__":  # one worker process of the test above
    asyncio.run(_worker(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))


async def test_slack_posts_to_one_channel_keep_a_shared_pace(sqlite_store: Store, slack_fake: Any) -> None:
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.channels.slack_outbox import SLACK_CHANNEL_LIMIT, SlackOutbox
    from tests.fakes.slack_fixtures import BOT_TOKEN, CARE

    outbox = SlackOutbox(sqlite_store, AsyncWebClient(token=BOT_TOKEN, base_url=slack_fake.url), shared_pace=True)
    with sqlite_store.session() as s:
        for i in range(5):
            SlackOutbox.enqueue(s, 0, "alert", CARE, f"alert {i}", in_thread=False)
    started = time.monotonic()
    assert await outbox.deliver() == 5
    # a burst of 3, then one a second: the 5th post waits two intervals
    assert time.monotonic() - started >= 2 * SLACK_CHANNEL_LIMIT.interval_s - 0.05
    assert [p["text"] for p in slack_fake.posts(CARE)] == [f"alert {i}" for i in range(5)]
    assert not SlackOutbox(sqlite_store, AsyncWebClient(token=BOT_TOKEN)).pace  # SQLite: Slack's 429s pace one process

