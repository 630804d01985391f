"""The database's reachability, for `/readyz` and for logs an operator can read during an outage.

- `DatabaseWatch` pings the store with `SELECT 1` (off the event loop, with a timeout): every few
  seconds while it answers, with an exponential, capped backoff while it does not. It logs once per
  state change ("database unreachable: ..." then "database reachable again after 40 s").
- `OutageLogFilter` folds the errors every message, poll and outbox round would log while the
  database is known to be down (one line per outage instead of one traceback per attempt); the
  first such error makes the watch ping at once, so the fold starts within milliseconds.
- `wait_for_database` lets `fancare run` start while the database is down: it waits, with the same
  backoff, and goes on when the database answers (instead of exiting).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from bot.store import Store

log = logging.getLogger("fancare.ops.database")
#: seconds between pings while the database answers
PING_EVERY_S = 5.0
#: the first retry after a failure; it doubles up to the configured cap
FIRST_BACKOFF_S = 0.5


def is_connection_error(exc: BaseException | None) -> bool:
    """An error that means "the database cannot be reached" (refused, reset, timed out, gone away),
    looked for along the exception's cause chain."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError,
                            sa_exc.TimeoutError)):
            return True
        if type(exc).__module__.startswith("psycopg") and type(exc).__name__ in ("OperationalError",
                                                                                  "InterfaceError"):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def describe(exc: BaseException) -> str:
    """The first line of the driver's message (refused, timeout, ...), never a statement or its values."""
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [""])[0]
    return f"{type(orig).__name__}: {first}"[:300]


def ping(store: Store) -> None:
    """One `SELECT 1`; raises what the driver raises."""
    with store.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


class DatabaseWatch:
    """Whether the store answers now, kept up to date by `run` and by `check` (one ping)."""

    def __init__(self, store: Store, *, timeout_s: float = 2.0, backoff_max_s: float = 30.0,
                 every_s: float = PING_EVERY_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.timeout_s = timeout_s
        self.backoff_max_s = backoff_max_s
        self.every_s = every_s
        self.clock = clock
        self.up: bool | None = None  # None: not checked yet
        self.error: str | None = None
        self.down_since: float | None = None
        self.folded = 0  # errors left out of the log during the current outage
        self._poke: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def check(self) -> bool:
        """Ping once (in a worker thread, so a hung connect never blocks the loop) and record the state."""
        try:
            await asyncio.wait_for(asyncio.to_thread(ping, self.store), self.timeout_s)
        except TimeoutError:
            self._set(False, f"no answer to SELECT 1 within {self.timeout_s:g} s")
        except Exception as exc:  # noqa: BLE001 - any failure of SELECT 1 means unready
            self._set(False, describe(exc))
        else:
            self._set(True, None)
        return bool(self.up)

    def _set(self, up: bool, error: str | None) -> None:
        was = self.up
        self.up, self.error = up, error
        if not up and was is not False:
            self.down_since = self.clock()
            self.folded = 0
            log.warning("database unreachable: %s; retrying with backoff (at most every %g s)", error,
                        self.backoff_max_s)
        elif up and was is False:
            took = self.clock() - (self.down_since or self.clock())
            folded = f" ({self.folded} errors during the outage left out of the log)" if self.folded else ""
            log.warning("database reachable again after %.0f s%s", took, folded)
            self.down_since = None

    def poke(self) -> None:
        """Ask for a ping now (from any thread): an error somewhere suggests the database went away."""
        loop, ev = self._loop, self._poke
        if loop is not None and ev is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(ev.set)

    async def run(self, stop: asyncio.Event) -> None:
        """Ping until `stop`: every `every_s` while up, with a doubling backoff (capped) while down."""
        self._loop = asyncio.get_running_loop()
        self._poke = asyncio.Event()
        backoff = FIRST_BACKOFF_S
        while not stop.is_set():
            up = await self.check()
            wait = self.every_s if up else backoff
            backoff = FIRST_BACKOFF_S if up else min(backoff * 2, self.backoff_max_s)
            self._poke.clear()
            stopper = asyncio.ensure_future(stop.wait())
            poked = asyncio.ensure_future(self._poke.wait())
            try:
                await asyncio.wait({stopper, poked}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopper.cancel()
                poked.cancel()


class OutageLogFilter(logging.Filter):
    """Installed on the log handlers by `fancare run`: while the watch knows the database is down,
    records caused by a connection error are counted instead of written; the first one seen while
    the database is thought up makes the watch ping at once (and is written: it may be a blip)."""

    def __init__(self, watch: DatabaseWatch) -> None:
        super().__init__()
        self.watch = watch
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == log.name:
            return True  # the watch's own state changes
        exc = record.exc_info[1] if record.exc_info else None
        if not is_connection_error(exc) and not _mentions_connection_error(record):
            return True
        if self.watch.up is False:
            with self._lock:
                self.watch.folded += 1
            return False
        self.watch.poke()
        return True


def _mentions_connection_error(record: logging.LogRecord) -> bool:
    """Warnings that name the error type instead of carrying it ("send failed on telegram: OperationalError")."""
    args: Any = record.args
    names = [a for a in (args if isinstance(args, tuple) else ()) if isinstance(a, str)]
    return any(n in ("OperationalError", "InterfaceError") for n in names)


def wait_for_database(store: Store, *, backoff_max_s: float = 30.0, sleep: Callable[[float], None] = time.sleep,
                      clock: Callable[[], float] = time.monotonic) -> float:
    """Block until the store answers `SELECT 1` (at start, before migrations); returns the seconds
    waited. Logs once when it is unreachable and once when it answers. Errors other than
    connection errors (a typo in the SQL, a bug) are raised at once."""
    started = clock()
    backoff = FIRST_BACKOFF_S
    logged = False
    while True:
        try:
            ping(store)
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            if not logged:
                log.warning("database unreachable: %s; waiting for it (retrying with backoff up to %g s)",
                            describe(exc), backoff_max_s)
                logged = True
            sleep(backoff)
            backoff = min(backoff * 2, backoff_max_s)
            continue
        waited = clock() - started
        if logged:
            log.warning("database reachable again after %.0f s; starting", waited)
        return waited
