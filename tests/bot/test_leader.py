"""The polling leader chosen through the store (bot/ops/leader.py), on SQLite and PostgreSQL, and
end to end: two real `fancare run` processes on one PostgreSQL against the fake Bot API, the leader
killed with SIGKILL, the other taking over and answering what was sent meanwhile, then a SIGTERM
handing over to a third at once."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select, text, update

from bot.ops.leader import Leadership
from bot.store import Message, Store
from bot.store.models import utcnow
from bot.store.scale_models import Lease
from tests.bot.channels.telegram_harness import telegram_config
from tests.bot.processes import CONNECTED, FancareProcesses, logged
from tests.conftest import PG_URL, write_config
from tests.fakes.telegram_server import FakeTelegram, message, user

NAME = "test:leader"


def _on_postgres(store: Store) -> bool:
    return store.engine.dialect.name == "postgresql"


# -- the lease, one statement at a time ------------------------------------------------------------
def test_of_eight_contenders_on_a_new_lease_one_wins(store: Store) -> None:
    contenders = [Leadership(store, NAME, ttl_s=30, owner=f"p{i}") for i in range(8)]
    barrier = threading.Barrier(len(contenders))
    won: dict[str, bool] = {}

    def contend(c: Leadership) -> None:
        barrier.wait()  # all insert the row and update it at once: the first-use race included
        won[c.owner] = c.try_acquire()

    threads = [threading.Thread(target=contend, args=(c,)) for c in contenders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [o for o, w in won.items() if w]
    assert len(won) == 8 and len(winners) == 1, won
    assert contenders[0].holder()[0] == winners[0]
    winner = next(c for c in contenders if c.owner == winners[0])
    assert winner.try_acquire()  # a renewal
    assert not any(c.try_acquire() for c in contenders if c is not winner)


def test_an_expired_lease_goes_to_the_next_contender_and_the_old_holder_cannot_renew(store: Store) -> None:
    a = Leadership(store, NAME, ttl_s=1.0, owner="a")
    b = Leadership(store, NAME, ttl_s=1.0, owner="b")
    assert a.try_acquire()
    assert not b.try_acquire()
    time.sleep(1.3)
    assert b.try_acquire()
    assert not a.try_acquire()  # taken while it was not renewed: a must stop polling
    assert b.holder()[0] == "b"


def test_renewal_keeps_the_lease_past_its_first_expiry(store: Store) -> None:
    a = Leadership(store, NAME, ttl_s=1.0, owner="a")
    b = Leadership(store, NAME, ttl_s=1.0, owner="b")
    assert a.try_acquire()
    first = a.holder()[1]
    for _ in range(4):  # 2 s in all, twice the ttl
        time.sleep(0.5)
        assert a.try_acquire()
        assert not b.try_acquire()
    until = a.holder()[1]
    assert first is not None and until is not None and until - first >= timedelta(seconds=1.5)


def test_release_hands_over_at_once_and_only_the_holder_can_release(store: Store) -> None:
    a = Leadership(store, NAME, ttl_s=60, owner="a")
    b = Leadership(store, NAME, ttl_s=60, owner="b")
    assert a.try_acquire()
    assert not b.release_lease()  # not b's to give
    assert not b.try_acquire()
    assert a.release_lease()
    assert a.holder() == (None, None)
    assert b.try_acquire()
    assert not a.release_lease()
    assert b.holder()[0] == "b"


def test_a_clock_a_minute_fast_steals_nothing_on_postgresql(store: Store) -> None:
    """PostgreSQL measures leases on its own clock, so a host whose clock runs 60 s fast sees the live
    lease as live. SQLite is one host: there the process clock is the clock (and a fast one wins)."""
    a = Leadership(store, NAME, ttl_s=30, owner="a")
    fast = Leadership(store, NAME, ttl_s=30, owner="fast", clock=lambda: utcnow() + timedelta(seconds=60))
    assert a.try_acquire()
    if _on_postgres(store):
        assert not fast.try_acquire()
        assert a.try_acquire()
        with store.engine.connect() as conn:
            db_now = conn.scalar(text("SELECT timezone('utc', now())"))
        until = a.holder()[1]
        assert isinstance(db_now, datetime) and until is not None
        assert timedelta(seconds=28) < until - db_now <= timedelta(seconds=30)  # ttl on the server's clock
    else:
        assert fast.try_acquire()


# -- the election loop ------------------------------------------------------------------------
async def _until(predicate: object, timeout: float) -> float:
    """Wait for `predicate()`; the seconds it took."""
    t0 = time.monotonic()
    while not predicate():  # type: ignore[operator]
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - t0


async def test_the_loop_keeps_one_leader_and_a_stop_hands_over_within_a_second(store: Store) -> None:
    a = Leadership(store, NAME, ttl_s=1.5, owner="a")
    b = Leadership(store, NAME, ttl_s=1.5, owner="b")
    seen: list[tuple[str, bool]] = []
    a.on_change.append(lambda v: seen.append(("a", v)))
    b.on_change.append(lambda v: seen.append(("b", v)))
    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    run_a = asyncio.create_task(a.run(stop_a))
    await asyncio.wait_for(a.leading.wait(), 5)
    run_b = asyncio.create_task(b.run(stop_b))
    for _ in range(15):  # 3 s: twice the ttl, so a lives by its renewals
        await asyncio.sleep(0.2)
        assert a.is_leader and not b.is_leader
    stop_a.set()
    await asyncio.wait_for(run_a, 5)
    took = await _until(lambda: b.is_leader, 3)
    assert took < 1.5  # the release, not the expiry, handed it over
    stop_b.set()
    await asyncio.wait_for(run_b, 5)
    assert seen == [("a", True), ("a", False), ("b", True), ("b", False)]
    assert b.holder() == (None, None)


async def test_a_killed_leader_is_replaced_after_its_ttl(store: Store) -> None:
    """A holder that stops renewing (a dead process: its loop is cancelled, nothing released) is
    replaced once the lease expires, within a second after."""
    a = Leadership(store, NAME, ttl_s=1.5, owner="a")
    b = Leadership(store, NAME, ttl_s=1.5, owner="b")
    assert await asyncio.to_thread(a.try_acquire)  # its last renewal
    renewed = time.monotonic()
    stop = asyncio.Event()
    run_b = asyncio.create_task(b.run(stop))
    await _until(lambda: b.is_leader, 5)
    took = time.monotonic() - renewed
    stop.set()
    await asyncio.wait_for(run_b, 5)
    assert 1.4 <= took <= 1.5 + 1.5, took


async def test_the_leader_steps_down_at_once_when_its_lease_is_taken(store: Store) -> None:
    a = Leadership(store, NAME, ttl_s=1.5, owner="a")
    changes: list[bool] = []
    a.on_change.append(changes.append)
    stop = asyncio.Event()
    run = asyncio.create_task(a.run(stop))
    await asyncio.wait_for(a.leading.wait(), 5)
    with store.session() as s:  # another process took it (after a stall of this one, say)
        s.execute(update(Lease).where(Lease.name == NAME).values(owner="other", until=utcnow() + timedelta(hours=1)))
    took = await _until(lambda: a.following.is_set(), 2)
    assert took <= 0.5 + 0.3  # the next renewal, ttl/3 later
    stop.set()
    await asyncio.wait_for(run, 5)
    assert changes == [True, False]
    assert a.holder()[0] == "other"  # a stop releases only a lease of its own


async def test_a_leader_that_cannot_renew_steps_down_before_its_lease_expires(store: Store) -> None:
    """The database refuses every renewal (here: the table is gone). The holder cannot know whether it
    still leads, so it stops counting itself leader before the lease can expire for the others."""
    a = Leadership(store, NAME, ttl_s=2.0, owner="a")
    lost_at: list[datetime] = []
    a.on_change.append(lambda v: None if v else lost_at.append(utcnow()))
    stop = asyncio.Event()
    run = asyncio.create_task(a.run(stop))
    await asyncio.wait_for(a.leading.wait(), 5)
    await asyncio.sleep(0.8)  # one renewal at least
    with store.engine.begin() as conn:
        until = conn.scalar(select(Lease.until).where(Lease.name == NAME))
        conn.execute(text("DROP TABLE leases"))
    assert until is not None
    await _until(lambda: bool(lost_at), 3)
    assert a.is_leader is False
    assert lost_at[0] < until - timedelta(seconds=0.2), (lost_at, until)  # ahead of the expiry, by the margin
    stop.set()
    await asyncio.wait_for(run, 10)


async def test_a_term_that_ran_out_while_the_loop_was_blocked_ends_before_the_next_poll(store: Store) -> None:
    """A blocked event loop (a long synchronous step) cannot renew: the next `check` (asked before each
    getUpdates) steps down at once, and the loop takes the lease again when it can renew."""
    a = Leadership(store, NAME, ttl_s=1.5, owner="a")
    changes: list[bool] = []
    a.on_change.append(changes.append)
    stop = asyncio.Event()
    run = asyncio.create_task(a.run(stop))
    await asyncio.wait_for(a.leading.wait(), 5)
    assert a.check()
    time.sleep(1.5)  # blocks the loop past the term (ttl - ttl/5 = 1.2 s)
    assert not a.check() and a.following.is_set()
    await asyncio.wait_for(a.leading.wait(), 3)  # nobody else took it: the next attempt wins again
    stop.set()
    await asyncio.wait_for(run, 5)
    assert changes == [True, False, True, False]


# -- end to end: two `fancare run` processes on PostgreSQL ------------------------------------------
TTL_S = 5.0


@pytest.fixture
def pg_url() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("FANCARE_TEST_POSTGRES_URL not set (run through scripts/with-postgres.sh)")
    s = Store(PG_URL)
    s.drop_all()
    s.migrate()  # before the processes start, so they do not migrate at the same time
    s.dispose()
    yield PG_URL
    s = Store(PG_URL)
    s.drop_all()
    s.dispose()


def _holder_pid(store: Store) -> int | None:
    with store.session() as s:
        owner = s.scalar(select(Lease.owner).where(Lease.name == "telegram:polling"))
    return int(owner.split(":")[1]) if owner else None


async def _gauge(log_path: Path) -> float:
    m = logged(log_path, r"ops endpoint listening on http://127\.0\.0\.1:(\d+)")
    assert m, "the ops endpoint did not log its port"
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{m.group(1)}/metrics") as r:
        body = await r.text()
    line = next(ln for ln in body.splitlines() if ln.startswith("fancare_polling_leader "))
    return float(line.split()[1])


def _answered(fake: FakeTelegram, chats: list[int]) -> bool:
    return all(fake.sent(c) for c in chats)


@pytest.mark.postgres
@pytest.mark.timeout(900)
async def test_two_processes_poll_one_at_a_time_and_the_survivor_of_a_kill_answers_everything(
        telegram_server: FakeTelegram, tmp_path: Path, pg_url: str, model_dir: Path) -> None:
    fake = telegram_server
    config = write_config(tmp_path, pg_url, model_dir, ops={"port": 0},
                          channels={"telegram": telegram_config(fake, leader_ttl_s=TTL_S)})
    store = Store(pg_url)
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    run = ["run", "--config", str(config)]
    async with FancareProcesses() as processes:
        procs = [processes.fancare(run, logs[0])]
        await fake.wait_for(lambda: _holder_pid(store) == procs[0].pid, timeout=300)
        procs.append(processes.fancare(run, logs[1]))
        await fake.wait_for(lambda: bool(logged(logs[1], CONNECTED)), timeout=300)
        await asyncio.sleep(TTL_S)  # the second one has tried (and failed) to take the lease a few times
        assert _holder_pid(store) == procs[0].pid

        before = [1001, 1002, 1003]
        for fan in before:
            fake.push({"message": message(fake, fan, "what is the warranty on the Voltora X1?", from_user=user(fan))})
        await fake.wait_for(lambda: _answered(fake, before), timeout=120)
        await asyncio.sleep(1.0)  # idle: nothing in flight when it dies
        # normally still the first; a stall longer than the ttl on this loaded machine may have moved it
        i = 0 if _holder_pid(store) == procs[0].pid else 1
        leader, follower, follower_log = procs[i], procs[1 - i], logs[1 - i]
        assert _holder_pid(store) == leader.pid
        assert await _gauge(logs[i]) == 1.0 and await _gauge(follower_log) == 0.0

        leader.send_signal(signal.SIGKILL)
        leader.wait(10)
        killed = time.monotonic()
        during = [2001, 2002, 2003, 2004, 2005]
        for fan in during:  # sent while nobody polls
            fake.push({"message": message(fake, fan, "hi, how do I reset my headphones?", from_user=user(fan))})
        await fake.wait_for(lambda: _holder_pid(store) == follower.pid, timeout=TTL_S + 10)
        took_over = time.monotonic() - killed
        await fake.wait_for(lambda: _answered(fake, during), timeout=120)
        assert await _gauge(follower_log) == 1.0

        # a graceful stop hands over at once: a third process waits, the leader gets SIGTERM
        logs.append(tmp_path / "third.log")
        procs.append(processes.fancare(run, logs[2]))
        await fake.wait_for(lambda: bool(logged(logs[2], CONNECTED)), timeout=300)
        follower.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        await fake.wait_for(lambda: _holder_pid(store) == procs[2].pid, timeout=TTL_S + 10)
        handed_over = time.monotonic() - stopped
        after = [3001, 3002]
        for fan in after:
            fake.push({"message": message(fake, fan, "do you ship to Canada?", from_user=user(fan))})
        await fake.wait_for(lambda: _answered(fake, after), timeout=120)
        assert await asyncio.to_thread(follower.wait, 30) == 0
        await asyncio.sleep(2.0)  # a duplicate send would show up here

    print(f"took over {took_over:.1f} s after the kill (ttl {TTL_S:g} s), {handed_over:.1f} s after a SIGTERM")
    assert took_over <= TTL_S + 3.0, f"took over after {took_over:.1f} s"
    assert handed_over < TTL_S, f"a graceful stop handed over after {handed_over:.1f} s (the lease expired)"
    assert fake.max_polls_in_flight == 1  # never two getUpdates at once
    assert logged(follower_log, r"leader telegram:polling: this process .* is the leader now")
    assert logged(follower_log, r"leader telegram:polling: this process .* is no longer the leader: stopping")
    assert not any(logged(p, r"getUpdates refused") for p in logs)  # no Conflict from the fake
    with store.session() as s:
        inbound = list(s.scalars(select(Message).where(Message.direction == "in")))
        outbound = list(s.scalars(select(Message).where(Message.direction == "out")))
    store.dispose()
    assert len(inbound) == len(before) + len(during) + len(after)  # each update recorded once
    assert all(m.status == "handled" for m in inbound), [(m.id, m.status) for m in inbound]
    assert all(m.status == "sent" for m in outbound), Counter(m.status for m in outbound)
    delivered = Counter(p["text"] for p in fake.sent())
    assert delivered == Counter(m.text for m in outbound)  # each reply sent once: none lost, none twice
    for fan in before + during + after:
        assert fake.sent(fan), f"fan {fan} got no answer"
