"""One leader among several fancare processes, chosen through a named lease in the store.

Telegram lets one client long-poll `getUpdates` at a time (a second one gets `Conflict`), so when
several `fancare run` processes share one PostgreSQL, exactly one of them polls: the holder of the
lease row `leases.name = "telegram:polling"`. The others keep processing and sending, and take over
when the holder stops renewing (it died) or releases (a graceful stop hands over at once).

Why a lease row and not an advisory lock: a lock lives as long as a connection, so a pooled
connection that outlives the work (or a half-dead one) would keep leadership, and SQLite has none.
A row with an expiry time works on both stores and is visible to an operator (`SELECT * FROM leases`).

- Acquire and renew are the same single conditional UPDATE: take the row when it is free, expired
  or already ours. PostgreSQL re-checks the WHERE clause after a concurrent writer commits, and
  SQLite serialises writers, so two contenders can never both win.
- The expiry is compared on the DATABASE clock on PostgreSQL, the store's one rule for that
  (`StoreClock`, bot/store/clock.py): processes on hosts whose clocks disagree still agree on when a
  lease is over. SQLite is one host, so the process clock (injectable for tests) is used there.
- The holder steps down on its own clock before the lease can expire for the others: it counts
  `ttl - margin` seconds (monotonic) from the moment it sent its last successful renewal, and the
  database's expiry is `ttl` from a moment after that. So two processes never poll at once, even
  when the database is unreachable and the holder cannot tell whether it still leads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.store import Store
from bot.store.clock import StoreClock
from bot.store.scale_models import Lease

__all__ = ["Leadership", "default_owner"]

log = logging.getLogger("fancare.ops.leader")
#: a store call that takes longer than this counts as failed (the holder may be steps from stepping down)
CALL_TIMEOUT_S = 5.0


def default_owner() -> str:
    """host:pid:random, unique per process start (a restarted process with the same pid is someone else)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Leadership:
    """Holds (or waits for) the lease `name` for this process while `run` runs.

    `is_leader` is the state; `leading` is set while this process leads and `following` while it
    does not, so a task can wait for either edge. `on_change` callbacks get the new state (True on
    becoming leader, False on losing or releasing it); each change is logged once.
    """

    def __init__(self, store: Store, name: str, *, ttl_s: float = 15.0, owner: str | None = None,
                 clock: Callable[[], datetime] | None = None, monotonic: Callable[[], float] = time.monotonic) -> None:
        if ttl_s <= 0:
            raise ValueError(f"leader lease {name!r}: ttl_s must be positive, got {ttl_s}")
        self.store = store
        self.name = name
        self.owner = owner or default_owner()
        self.ttl_s = float(ttl_s)
        #: renew this often, so two renewals can fail (a blip) before the lease runs out
        self.renew_every_s = self.ttl_s / 3
        #: a follower asks this often (one UPDATE matching no row while the lease is held), so a released
        #: lease is taken over within a second and an expired one within a second of its expiry
        self.follow_every_s = min(1.0, self.renew_every_s)
        #: step down this long before the lease could expire for the others
        self.margin_s = self.ttl_s / 5
        #: the time leases are measured on: the database's on PostgreSQL; `clock` (None: utcnow) on SQLite
        self.clock = StoreClock(store.engine, process=clock)
        self.monotonic = monotonic
        self.on_change: list[Callable[[bool], None]] = []
        self.leading = asyncio.Event()
        self.following = asyncio.Event()
        self.following.set()
        self._deadline = 0.0  # monotonic time at which this process stops counting itself leader
        self._row_ready = False

    @property
    def is_leader(self) -> bool:
        return self.leading.is_set() and self.monotonic() < self._deadline

    def check(self) -> bool:
        """`is_leader`, and a step-down now when the term ran out while the loop was too busy for `run`
        to notice (so `following` is set and the change logged, as when `run` sees it)."""
        if self.leading.is_set() and self.monotonic() >= self._deadline:
            self._set(False, f"no renewal within {self.ttl_s - self.margin_s:.1f} s")
        return self.is_leader

    # -- one statement each (synchronous: `run` calls them on its own thread) -----------------------------
    def _ensure_row(self) -> None:
        """Insert the (free) lease row on first use; a concurrent insert by another process is fine."""
        if self._row_ready:
            return
        with self.store.session() as s:
            exists = s.scalar(select(Lease.name).where(Lease.name == self.name))
        if exists is None:
            try:
                with self.store.session() as s:
                    s.execute(insert(Lease).values(name=self.name, owner=None, until=None, updated_at=None))
            except IntegrityError:
                pass  # another process inserted it first
        self._row_ready = True

    def try_acquire(self) -> bool:
        """Take or renew the lease with one conditional UPDATE; True when this process holds it now."""
        self._ensure_row()
        now = self.clock.now()
        until: Any = now + timedelta(seconds=self.ttl_s)
        with self.store.session() as s:
            res = s.execute(update(Lease).where(
                Lease.name == self.name,
                or_(Lease.owner.is_(None), Lease.until.is_(None), Lease.until < now, Lease.owner == self.owner),
            ).values(owner=self.owner, until=until, updated_at=now).execution_options(synchronize_session=False))
            return bool(getattr(res, "rowcount", 0) == 1)

    def release_lease(self) -> bool:
        """Give the lease up if it is ours (a graceful stop: the next process need not wait for expiry)."""
        with self.store.session() as s:
            res = s.execute(update(Lease).where(Lease.name == self.name, Lease.owner == self.owner)
                            .values(owner=None, until=None, updated_at=self.clock.now())
                            .execution_options(synchronize_session=False))
            return bool(getattr(res, "rowcount", 0) == 1)

    def holder(self) -> tuple[str | None, datetime | None]:
        """(owner, until) as stored, for tests and operators."""
        with self.store.session() as s:
            row = s.execute(select(Lease.owner, Lease.until).where(Lease.name == self.name)).first()
        return (row[0], row[1]) if row is not None else (None, None)

    # -- the loop --------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Contend for the lease until `stop`, then release it if held. Tries at once on start; the
        leader renews every ttl/3, a follower tries every second (it takes over at most ttl + 1 s after
        the holder's last renewal, and within a second of a release)."""
        failing = False
        # its own thread: a renewal never queues behind other work in the loop's default executor
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fancare-leader")
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                sent_at = self.monotonic()
                try:
                    won = await asyncio.wait_for(loop.run_in_executor(executor, self.try_acquire), CALL_TIMEOUT_S)
                except Exception as exc:  # noqa: BLE001 - the database is down or slow: keep trying
                    if not failing:
                        log.warning("leader %s: lease %s failed (%s); %s", self.name,
                                    "renewal" if self.leading.is_set() else "attempt", type(exc).__name__,
                                    "stepping down unless it succeeds soon" if self.leading.is_set()
                                    else "retrying")
                        failing = True
                    won = None
                else:
                    failing = False
                if won:
                    self._deadline = sent_at + self.ttl_s - self.margin_s
                    self._set(True)
                elif won is False:
                    self._set(False, "the lease is held by another process")
                if self.leading.is_set():  # a failed renewal is retried soon, never past the deadline
                    wait = self.renew_every_s if won else self.follow_every_s
                    wait = min(wait, max(0.0, self._deadline - self.monotonic()))
                else:
                    wait = self.follow_every_s
                await self._sleep(stop, wait)
                self.check()
        finally:
            self._set(False, "stopping")
            with contextlib.suppress(Exception):  # also after a step-down: the row may still name us
                await asyncio.wait_for(loop.run_in_executor(executor, self.release_lease), CALL_TIMEOUT_S)
            executor.shutdown(wait=False)

    @staticmethod
    async def _sleep(stop: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)

    def _set(self, leader: bool, why: str = "") -> None:
        if leader == self.leading.is_set():
            return
        if leader:
            self.following.clear()
            self.leading.set()
            log.info("leader %s: this process (%s) is the leader now", self.name, self.owner)
        else:
            self._deadline = 0.0
            self.leading.clear()
            self.following.set()
            log.log(logging.INFO if why == "stopping" else logging.WARNING,
                    "leader %s: this process (%s) is no longer the leader: %s", self.name, self.owner, why)
        for cb in list(self.on_change):
            try:
                cb(leader)
            except Exception:  # noqa: BLE001 - an observer never breaks the election
                log.exception("leader %s: a change callback failed", self.name)
