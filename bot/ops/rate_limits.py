"""Send-rate limits shared by every fancare process on one store (GCRA over the `rate_slots` table).

Telegram counts a bot's sends, not a process's: with N workers, limiters kept in each process let
the bot send N times too fast and earn 429s (and flood bans). Here every worker reserves its send
slot in the database and then sleeps until that slot, so all of them together keep the limit.

The algorithm is GCRA (the "generic cell rate algorithm"): per key one number, the theoretical
arrival time `tat` of the next send. A send arriving at `a` goes out at
`max(a, tat - tau)` and moves `tat` to `max(tat, a) + T`, where `T = 1/rate` and
`tau = (burst - 1) * T`. Every reservation moves `tat` by at least `T`, so in any window of `W`
seconds at most `ceil(W / T) + burst - 1` sends go out. `Limit.within(count, period, burst)` picks
`T` so that the documented Telegram limit (30 per second, 20 per minute in a group) holds in every
window, burst included.

A send needs several keys (the bot overall and its chat or group): it reserves a slot of each, all
arriving now, and goes out at the latest of them. (Reserving the overall key at the group's later
slot instead would move the bot's `tat` past the gap and stall every other chat behind one busy
group.) So a send delayed by its group's pace holds an overall slot from the moment it asked: while
groups drain backlogs, one second can carry at most one extra send per such group (a group paces
one send per 3 s). Keys are locked in one order, the overall key last, so reservations never
deadlock:

- PostgreSQL: ONE statement (a chain of `INSERT ... ON CONFLICT DO UPDATE ... RETURNING` CTEs, on
  an autocommit connection of the limiter's own small pool without pre-ping): one round trip per
  send. Time comes from the database clock (`clock_timestamp()`), and the wait is turned into a
  local sleep at once, so hosts whose clocks disagree still share one timeline.
- SQLite (one host; used when config asks for it): the same arithmetic in one short transaction,
  on the process clock.

`SharedTelegramLimits` plugs this into python-telegram-bot as its rate limiter (every Bot API call
with a chat, like PTB's own `AIORateLimiter`), so polls, moderation calls and replies all count.
The pipeline's send lease is renewed while a send waits for its slot (`Pipeline._keep_lease`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from telegram.error import NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

from bot.store import Store

__all__ = ["Limit", "SharedRateLimiter", "SharedTelegramLimits", "shared_limits_wanted", "telegram_limits"]

log = logging.getLogger("fancare.ops.rate_limits")

#: rows not touched for this long are deleted (a chat's slot is in the past by then anyway)
PRUNE_AFTER_S = 3600.0
PRUNE_EVERY_S = 600.0
#: sends a private chat may make back to back before its per-second pace applies
CHAT_BURST = 3
#: overall and per-group bursts: small, so a storm does not bunch up at the start of each window
OVERALL_BURST = 3
GROUP_BURST = 3


@dataclass(frozen=True)
class Limit:
    """One GCRA key: `interval_s` between sends on average (T), `burst` sends allowed back to back."""

    interval_s: float
    burst: int = 1

    def __post_init__(self) -> None:
        if not self.interval_s > 0 or self.burst < 1:
            raise ValueError(f"a rate limit needs interval_s > 0 and burst >= 1, got {self}")

    @property
    def tolerance_s(self) -> float:
        """GCRA's tau: how far ahead of its pace a key may run."""
        return (self.burst - 1) * self.interval_s

    @classmethod
    def per_second(cls, rate: float, burst: int = 1) -> Limit:
        return cls(1.0 / rate, burst)

    @classmethod
    def within(cls, count: float, period_s: float, burst: int) -> Limit:
        """At most `count` sends in ANY window of `period_s` seconds, `burst` of them back to back:
        the pace leaves room for the burst (T = period / (count - burst + 1))."""
        if count < 1:  # less than one per period (e.g. 0.5 per second): one every period / count
            return cls(period_s / count, 1)
        burst = max(1, min(burst, int(count)))
        return cls(period_s / (math.floor(count) - burst + 1), burst)


def shared_limits_wanted(setting: bool | Literal["auto"], store: Store) -> bool:
    """`auto`: shared when the store is PostgreSQL (several processes may send); in-process otherwise."""
    if setting == "auto":
        return store.engine.dialect.name == "postgresql"
    return bool(setting)


class SharedRateLimiter:
    """Reserves send slots in `rate_slots`; `await wait(keys)` returns once this send may go out.

    Blocking store calls run in a worker thread, so the event loop never waits on the database."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self.on_server = store.engine.dialect.name == "postgresql"
        self._engine: Engine = self._own_engine(store) if self.on_server else store.engine
        self._last_prune = 0.0

    @staticmethod
    def _own_engine(store: Store) -> Engine:
        """A small autocommit pool without pre-ping: the reservation is then exactly one round trip
        (the store's pool pings on every checkout, a second round trip)."""
        return create_engine(store.url, pool_size=4, max_overflow=4, pool_pre_ping=False,
                             pool_reset_on_return=None, isolation_level="AUTOCOMMIT", hide_parameters=True)

    def close(self) -> None:
        if self._engine is not self.store.engine:
            self._engine.dispose()

    # -- reserving (synchronous: one statement) ------------------------------------------------
    def reserve(self, keys: Sequence[tuple[str, Limit]]) -> float:
        """Reserve the next slot of every key, in order; seconds to wait before sending (>= 0)."""
        if not keys:
            return 0.0
        try:
            return self._reserve_pg(keys) if self.on_server else self._reserve_local(keys)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            return self._reserve_pg(keys) if self.on_server else self._reserve_local(keys)  # a stale connection: once more

    def _reserve_pg(self, keys: Sequence[tuple[str, Limit]]) -> float:
        ctes = ["c0 AS (SELECT CAST(extract(epoch FROM clock_timestamp()) AS double precision) AS s)"]
        params: dict[str, Any] = {}
        slots = []
        for i, (key, lim) in enumerate(keys, start=1):
            params |= {f"k{i}": key, f"t{i}": lim.interval_s, f"u{i}": lim.tolerance_s}
            after = f", u{i - 1}" if i > 1 else ""  # reading the previous row orders the locks: no deadlocks
            ctes.append(f"u{i} AS (INSERT INTO rate_slots (key, tat) SELECT :k{i}, c0.s + :t{i} FROM c0{after} "
                        f"ON CONFLICT (key) DO UPDATE SET tat = GREATEST(rate_slots.tat, excluded.tat - :t{i}) + :t{i} "
                        f"RETURNING tat)")
            slots.append(f"(SELECT tat FROM u{i}) - :t{i} - :u{i}")
        sql = f"WITH {', '.join(ctes)} SELECT GREATEST({', '.join(slots)}) - c0.s FROM c0"
        with self._engine.connect() as conn:
            wait = conn.execute(text(sql), params).scalar_one()
        return max(0.0, float(wait))

    def _reserve_local(self, keys: Sequence[tuple[str, Limit]]) -> float:
        """The same arithmetic on the process clock: each upsert is atomic and the first one takes
        SQLite's write lock, so concurrent reservations (threads, processes) are serialised."""
        now = at = self.clock()
        with self._engine.begin() as conn:
            for key, lim in keys:
                tat = conn.execute(text(
                    "INSERT INTO rate_slots (key, tat) VALUES (:k, :a + :t) "
                    "ON CONFLICT (key) DO UPDATE SET tat = MAX(rate_slots.tat, excluded.tat - :t) + :t RETURNING tat"),
                    {"k": key, "a": now, "t": lim.interval_s}).scalar_one()
                at = max(at, float(tat) - lim.interval_s - lim.tolerance_s)
        return max(0.0, at - now)

    def push_back(self, keys: Sequence[str], seconds: float) -> None:
        """Telegram said "retry after N s": no worker sends on these keys before then."""
        now = "CAST(extract(epoch FROM clock_timestamp()) AS double precision)" if self.on_server else ":now"
        with self._engine.begin() as conn:
            for key in keys:
                conn.execute(text(f"UPDATE rate_slots SET tat = {now} + :s WHERE key = :k AND tat < {now} + :s"),
                             {"k": key, "s": seconds, "now": self.clock()})

    def prune(self) -> int:
        """Delete slots idle for an hour (one row per chat would otherwise grow without end)."""
        now = "CAST(extract(epoch FROM clock_timestamp()) AS double precision)" if self.on_server else ":now"
        with self._engine.begin() as conn:
            res = conn.execute(text(f"DELETE FROM rate_slots WHERE tat < {now} - :age"),
                               {"age": PRUNE_AFTER_S, "now": self.clock()})
        return int(getattr(res, "rowcount", 0) or 0)

    # -- waiting ---------------------------------------------------------------------------------
    async def wait(self, keys: Sequence[tuple[str, Limit]]) -> float:
        """Reserve and sleep until the slot; returns the seconds slept."""
        delay = await asyncio.to_thread(self.reserve, keys)
        if time.monotonic() - self._last_prune > PRUNE_EVERY_S:
            self._last_prune = time.monotonic()
            asyncio.get_running_loop().run_in_executor(None, self._prune_quietly)
        if delay > 0:
            await asyncio.sleep(delay)
        return delay

    def _prune_quietly(self) -> None:
        try:
            self.prune()
        except SQLAlchemyError as exc:
            log.warning("rate limits: pruning old slots failed (%s)", type(exc).__name__)


def telegram_limits(overall_per_s: float, group_per_min: float, chat_per_s: float) -> tuple[Limit, Limit, Limit]:
    """(overall, group, private chat) limits from `channels.telegram.rate_limits`."""
    return (Limit.within(overall_per_s, 1.0, OVERALL_BURST), Limit.within(group_per_min, 60.0, GROUP_BURST),
            # as the in-process limiter: up to 3 seconds' worth back to back (a slow chat pace has no burst)
            Limit.per_second(chat_per_s, max(1, min(CHAT_BURST, int(3 * chat_per_s)))))


#: Bot API methods that put a message into a private chat (the per-chat pace applies to them only)
_CHAT_SENDS = frozenset({"sendMessage", "sendPoll", "sendPhoto", "sendDocument", "sendMediaGroup", "sendAnimation",
                         "sendVideo", "sendAudio", "sendVoice", "sendSticker", "sendLocation", "sendContact",
                         "copyMessage", "forwardMessage"})


class SharedTelegramLimits(BaseRateLimiter[int]):
    """python-telegram-bot's rate limiter, backed by `SharedRateLimiter`.

    Like PTB's `AIORateLimiter`: every call with a `chat_id` counts against the bot's overall limit,
    every call into a group (negative or @name chat id) against that group's; in addition a message
    into a private chat counts against that chat's pace. 429s are not retried here: the outbox
    retries after Telegram's `retry_after`, and the keys are pushed back so no worker sends sooner."""

    def __init__(self, limiter: SharedRateLimiter, bot_id: str, overall: Limit, group: Limit, chat: Limit) -> None:
        self.limiter = limiter
        self.bot_id = bot_id
        self.overall, self.group, self.chat = overall, group, chat
        self.waited_s = 0.0  # total time sends spent waiting for their slots (observability, tests)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        self.limiter.close()

    def keys(self, endpoint: str, chat_id: Any) -> list[tuple[str, Limit]]:
        """The keys one Bot API call reserves, narrowest first, the bot's overall key last."""
        if chat_id is None:
            return []
        with_chat: list[tuple[str, Limit]] = []
        try:
            cid: int | str = int(chat_id)
        except (TypeError, ValueError):
            cid = str(chat_id)  # "@channelname": a channel or supergroup
        if isinstance(cid, str) or cid < 0:
            with_chat.append((f"tg:{self.bot_id}:group:{cid}", self.group))
        elif endpoint in _CHAT_SENDS:
            with_chat.append((f"tg:{self.bot_id}:chat:{cid}", self.chat))
        return [*with_chat, (f"tg:{self.bot_id}:all", self.overall)]

    async def process_request(self, callback: Callable[..., Coroutine[Any, Any, Any]], args: Any,
                              kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
                              rate_limit_args: int | None) -> Any:
        keys = self.keys(endpoint, data.get("chat_id"))
        try:
            if keys:  # getMe, answerCallbackQuery...: no chat, no limit (as in PTB's AIORateLimiter)
                self.waited_s += await self.limiter.wait(keys)
        except SQLAlchemyError as exc:  # the store is unreachable: a retryable send error for the outbox
            raise NetworkError(f"shared rate limit unavailable ({type(exc).__name__})") from exc
        try:
            return await callback(*args, **kwargs)
        except RetryAfter as exc:
            retry = exc.retry_after
            seconds = retry.total_seconds() if hasattr(retry, "total_seconds") else float(retry)
            try:
                await asyncio.to_thread(self.limiter.push_back, [k for k, _ in keys], seconds)
            except SQLAlchemyError:
                log.warning("rate limits: could not record Telegram's retry_after for the other workers")
            raise
