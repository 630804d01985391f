"""`SQLCounter`: how many SQL statements and transactions an engine runs, from SQLAlchemy's events.

The per-message cost of the hot path is mostly round trips to the database (BENCHMARKS.md section 4),
so the benchmark prints statements and transactions per message and a regression test bounds them.
Counts are exact (unlike times on a shared machine): a change that adds a statement shows at once.
Thread-safe, because the store's work runs in a thread pool off the event loop.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


class SQLCounter:
    """Counts, while attached: `statements` (every cursor execute, SAVEPOINTs included), `commits`
    and `rollbacks` (a transaction ends in one of them) and `by_verb` (SELECT, INSERT, ...)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self.statements = 0
        self.commits = 0
        self.rollbacks = 0
        self.by_verb: Counter[str] = Counter()
        self._attached = False

    @property
    def transactions(self) -> int:
        return self.commits + self.rollbacks

    def reset(self) -> None:
        with self._lock:
            self.statements = self.commits = self.rollbacks = 0
            self.by_verb.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"statements": self.statements, "transactions": self.commits + self.rollbacks,
                    "commits": self.commits, "rollbacks": self.rollbacks, "by_verb": dict(self.by_verb)}

    def _on_statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "?"
        with self._lock:
            self.statements += 1
            self.by_verb[verb] += 1

    def _on_commit(self, _conn: Any) -> None:
        with self._lock:
            self.commits += 1

    def _on_rollback(self, _conn: Any) -> None:
        with self._lock:
            self.rollbacks += 1

    def attach(self) -> SQLCounter:
        if not self._attached:
            event.listen(self.engine, "before_cursor_execute", self._on_statement)
            event.listen(self.engine, "commit", self._on_commit)
            event.listen(self.engine, "rollback", self._on_rollback)
            self._attached = True
        return self

    def detach(self) -> None:
        if self._attached:
            event.remove(self.engine, "before_cursor_execute", self._on_statement)
            event.remove(self.engine, "commit", self._on_commit)
            event.remove(self.engine, "rollback", self._on_rollback)
            self._attached = False

    def __enter__(self) -> SQLCounter:
        return self.attach()

    def __exit__(self, *_: object) -> None:
        self.detach()
