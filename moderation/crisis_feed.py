"""Feed the crisis monitor from the store, so that every process sees the whole brand and a restart
keeps the baseline.

The pipeline stores every message with its NLU result (intent, sentiment). `CrisisWatch` reads the
closed minutes from there, counts all and negative messages per minute for the brand and each
channel, and hands them to `CrisisMonitor`: the monitor itself stays a pure in-memory model.

- Several processes: each one's watch reads the same rows and so raises the same alerts; the Slack
  console posts an alert once (a `slack_seen` key per key and minute), the log may show it twice.
- A restart: the first pass replays the last `replay_minutes` (6 hours by default: enough for the
  baseline and for the chart), so detection resumes at once instead of after a warm-up.
- A minute is closed `grace_s` seconds after it ends, so that transactions committed a moment
  later still count.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.store import Message, NLUResult, Store
from bot.store.models import epoch_seconds
from moderation.crisis import NEGATIVE_INTENTS, Alert, CrisisMonitor

log = logging.getLogger("fancare.moderation.crisis")
Notify = Callable[[Alert, list[tuple[int, int, int]]], Awaitable[None]]


def _naive(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, UTC).replace(tzinfo=None)


def is_negative(intent: str | None, signals: dict[str, Any] | None) -> bool:
    """What the crisis monitor counts as negative: negative sentiment or a complaint-like intent."""
    return (signals or {}).get("sentiment") == "negative" or intent in NEGATIVE_INTENTS


class CrisisWatch:
    def __init__(self, store: Store, monitor: CrisisMonitor, *, replay_minutes: int = 360,
                 phrase_minutes: int = 60, grace_s: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.monitor = monitor
        self.replay_minutes = replay_minutes
        self.phrase_minutes = phrase_minutes
        self.grace_s = grace_s
        self.clock = clock
        self.next_minute: int | None = None  # the first minute not fed yet

    def _counts(self, start: int, end: int, with_text: bool) -> dict[int, dict[str, tuple[int, int, list[str]]]]:
        """{minute: {key: (messages, negative, negative texts)}} for minutes [start, end); texts only
        when asked (the phrase window), so a replay of busy hours stays light."""
        out: dict[int, dict[str, list[Any]]] = defaultdict(dict)
        text_col: Any = Message.text if with_text else Message.id
        with self.store.session() as s:
            rows = s.execute(select(NLUResult.created_at, NLUResult.intent, NLUResult.signals, Message.channel,
                                    text_col)
                             .join(Message, Message.id == NLUResult.message_id)
                             .where(NLUResult.created_at >= _naive(start), NLUResult.created_at < _naive(end),
                                    Message.direction == "in"))
            for at, intent, signals, channel, text in rows:
                text = text if with_text else None
                minute = int(epoch_seconds(at) // 60)
                neg = is_negative(intent, signals)
                for key in ("brand", f"channel:{channel}"):
                    slot = out[minute].setdefault(key, [0, 0, []])
                    slot[0] += 1
                    if neg:
                        slot[1] += 1
                        if text:
                            slot[2].append(text)
        return {m: {k: (v[0], v[1], v[2]) for k, v in keys.items()} for m, keys in out.items()}

    def catch_up(self, now: float | None = None) -> list[Alert]:
        """Feed every closed minute not fed yet; the alerts of the last two minutes (older ones,
        raised while replaying after a restart, are history, not news)."""
        now_min = int(((now if now is not None else self.clock()) - self.grace_s) // 60)
        if self.next_minute is None:
            self.next_minute = now_min - self.replay_minutes
        alerts: list[Alert] = []
        while self.next_minute < now_min:
            phrases_from = now_min - self.phrase_minutes
            end = min(self.next_minute + 60, now_min)
            if self.next_minute < phrases_from < end:
                end = phrases_from  # chunks never straddle the phrase window's start
            counts = self._counts(self.next_minute, end, with_text=self.next_minute >= phrases_from)
            for m in range(self.next_minute, end):
                for key, (n, neg, texts) in counts.get(m, {}).items():
                    texted = texts[:50]
                    alerts += self.monitor.observe(m, keys=(key,), count=n - len(texted),
                                                   negatives=neg - len(texted))
                    for text in texted:
                        alerts += self.monitor.observe(m, keys=(key,), negative=True, text=text)
            self.next_minute = end
        alerts += self.monitor.tick(now_min)
        return [a for a in alerts if a.at_minute >= now_min - 2]

    def history(self, key: str) -> list[tuple[int, int, int]]:
        series = self.monitor.series.get(key)
        return [(int(m), int(a), int(n)) for m, a, n in series.history] if series is not None else []

    async def run(self, notify: Notify | None, stop: asyncio.Event, interval_s: float = 15.0) -> None:
        """Every `interval_s`: catch up and report alerts (log, and `notify` when given)."""
        while not stop.is_set():
            try:
                alerts = await asyncio.to_thread(self.catch_up)
                for alert in alerts:
                    log.warning("crisis warning [%s]: %s negative in %s min vs %.1f expected", alert.key,
                                alert.observed, alert.window_minutes, alert.expected)
                    if notify is not None:
                        await notify(alert, self.history(alert.key))
            except Exception:  # noqa: BLE001 - a failing pass must not stop the watch
                log.exception("crisis watch failed")
            try:
                await asyncio.wait_for(stop.wait(), interval_s)
            except TimeoutError:
                pass
