"""Timer work done once across processes: a named claim in the `leases` table for a stretch of time.

Most timers in fancare already guard themselves with a conditional UPDATE on the row they change
(a poll's `status`, a giveaway's `status`, an SLA ticket's repost counter, the retention day). Some
have no row of their own to change: the crisis watch runs in every process and each one's monitor
decides alone when to alert, so two processes may alert the same episode at different minutes.
`claim_window(store, "crisis:brand", 3600)` lets exactly one caller through per window.

One conditional UPDATE decides (after inserting the row once): PostgreSQL re-checks the WHERE clause
when a concurrent writer commits first, and SQLite serialises writers, so two callers never both
win. Windows are measured on the database clock on PostgreSQL (hosts disagree), the process clock
on SQLite (one host).
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.store import Store
from bot.store.models import utcnow
from bot.store.scale_models import Lease

__all__ = ["alert_once", "claim_window", "release_claim"]

#: who holds a claim: readable in `SELECT * FROM leases` (host, pid, a random part per claim)
_PROCESS = f"{socket.gethostname()[:60]}:{os.getpid()}"


def _now(store: Store) -> Any:
    if store.engine.dialect.name == "postgresql":
        return func.timezone("utc", func.now(), type_=DateTime())
    return utcnow()


def claim_window(store: Store, name: str, seconds: float, *, now: datetime | None = None) -> str | None:
    """Claim `name` for `seconds` unless someone holds it; the claim's owner id when this caller won
    (give it to `release_claim` when the work failed), None when another caller holds it."""
    if seconds <= 0:
        raise ValueError(f"timer claim {name!r}: seconds must be positive, got {seconds}")
    with store.session() as s:
        exists = s.scalar(select(Lease.name).where(Lease.name == name))
    if exists is None:
        try:
            with store.session() as s:
                s.execute(insert(Lease).values(name=name, owner=None, until=None, updated_at=None))
        except IntegrityError:
            pass  # another process inserted it first
    at: Any = now if now is not None else _now(store)
    owner = f"{_PROCESS}:{uuid.uuid4().hex[:8]}"
    with store.session() as s:
        res = s.execute(update(Lease).where(Lease.name == name, or_(Lease.until.is_(None), Lease.until <= at))
                        .values(owner=owner, until=at + timedelta(seconds=seconds), updated_at=at)
                        .execution_options(synchronize_session=False))
        return owner if getattr(res, "rowcount", 0) == 1 else None


def release_claim(store: Store, name: str, owner: str) -> bool:
    """Give a claim back (its work failed and should be tried again, by anyone)."""
    with store.session() as s:
        res = s.execute(update(Lease).where(Lease.name == name, Lease.owner == owner)
                        .values(owner=None, until=None).execution_options(synchronize_session=False))
        return getattr(res, "rowcount", 0) == 1


AlertNotify = Callable[[Any, list[tuple[int, int, int]]], Awaitable[None]]


def alert_once(store: Store, notify: AlertNotify, window_s: float) -> AlertNotify:
    """`notify` for crisis alerts, passed through for one process per alert key and window (the
    monitor's cooldown): every process watches the same messages, and monitors with different
    pasts (one started an hour ago, one a week ago) may alert the same episode minutes apart.
    A failed notification gives the claim back, so the next process's alert goes out instead."""

    async def guarded(alert: Any, history: list[tuple[int, int, int]]) -> None:
        name = f"crisis:{alert.key}"[:128]
        owner = await asyncio.to_thread(claim_window, store, name, window_s)
        if owner is None:
            return
        try:
            await notify(alert, history)
        except BaseException:
            await asyncio.to_thread(release_claim, store, name, owner)
            raise

    return guarded
