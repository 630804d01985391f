"""Whose clock a lease is measured on: the database's on PostgreSQL, this process's on SQLite.

Several processes on several hosts share one PostgreSQL; their clocks drift apart, and a lease
written by a host whose clock runs a minute fast would look expired (or alive) a minute early (or
late) to the others. So every lease time on PostgreSQL is computed inside the statement from the
server's `now()` (UTC, naive, like every other timestamp in the store). SQLite serves one process on
one machine, where the process clock is the only clock there is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, func
from sqlalchemy.engine import Engine

from bot.store.models import utcnow

__all__ = ["StoreClock"]


class StoreClock:
    """`now()` and `later(seconds)` as values to put into a statement (a WHERE or a SET).

    On PostgreSQL they are SQL expressions evaluated by the server (the transaction's start time,
    the same for every row one statement touches); elsewhere they are Python datetimes from
    `process` (default: `utcnow`, looked up at each call so a test can patch it), which a caller such
    as the leader election injects to play a host whose clock is off."""

    def __init__(self, engine: Engine, process: Callable[[], datetime] | None = None) -> None:
        self.on_server = engine.dialect.name == "postgresql"
        self._process = process

    def now(self) -> Any:
        if self.on_server:
            return func.timezone("utc", func.now(), type_=DateTime())
        return self._process() if self._process is not None else utcnow()

    def later(self, seconds: float) -> Any:
        """`now()` plus `seconds` (a lease's end, a retry's due time)."""
        return self.now() + timedelta(seconds=seconds)
