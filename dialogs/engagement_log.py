"""The append-only, hash-chained log of polls and giveaways.

    hash = SHA-256(prev_hash + "\\n" + subject + "\\n" + kind + "\\n" + actor + "\\n" + at + "\\n" + data)

`data` is stored as the exact canonical JSON that was hashed. The first row's prev_hash is 64 zeros.
Rows are never updated or deleted through the ORM (a mapper hook refuses), `prev_hash` is unique so
two writers cannot fork the chain (the loser retries on top of the winner), and `verify_chain`
recomputes every link: an edit, a deletion or an insertion in the middle is reported by row id.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store import Store
from bot.store.engagement_models import EngagementLog
from bot.store.models import utcnow

GENESIS = "0" * 64


class AppendOnlyError(RuntimeError):
    pass


@event.listens_for(EngagementLog, "before_update")
@event.listens_for(EngagementLog, "before_delete")
def _forbid_change(*_: Any) -> None:
    raise AppendOnlyError("the engagement log is append-only")


def canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def link_hash(prev_hash: str, subject: str, kind: str, actor: str, at: str, data: str) -> str:
    body = "\n".join((prev_hash, subject, kind, actor, at, data))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def append(store: Store, subject: str, kind: str, data: dict[str, Any], actor: str = "fancare",
           attempts: int = 20) -> EngagementLog:
    """Append one row in its own transaction (retrying when another writer took the same link)."""
    for _ in range(attempts):
        try:
            with store.session() as s:
                return append_in(s, subject, kind, data, actor)
        except IntegrityError:
            continue
    raise RuntimeError("could not append to the engagement log (too much contention)")


def append_in(s: Session, subject: str, kind: str, data: dict[str, Any], actor: str = "fancare") -> EngagementLog:
    """Append inside the caller's transaction (so the row commits with the change it records)."""
    last = s.scalar(select(EngagementLog).order_by(EngagementLog.id.desc()).limit(1))
    prev = last.hash if last is not None else GENESIS
    at = utcnow().replace(microsecond=0)
    body = canonical(data)
    row = EngagementLog(at=at, subject=subject, kind=kind, actor=actor, data=body, prev_hash=prev,
                        hash=link_hash(prev, subject, kind, actor, at.isoformat(), body))
    s.add(row)
    s.flush()
    return row


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    rows: int
    problems: list[str]


def verify_chain(store: Store) -> ChainCheck:
    problems: list[str] = []
    prev = GENESIS
    n = 0
    with store.session() as s:
        for row in s.scalars(select(EngagementLog).order_by(EngagementLog.id)):
            n += 1
            if row.prev_hash != prev:
                problems.append(f"row {row.id}: does not follow the previous row (deleted or inserted rows)")
            want = link_hash(row.prev_hash, row.subject, row.kind, row.actor, row.at.replace(microsecond=0)
                             .isoformat(), row.data)
            if want != row.hash:
                problems.append(f"row {row.id}: content changed after it was written")
            prev = row.hash
    return ChainCheck(not problems, n, problems)


def entries(store: Store, subject: str) -> list[tuple[str, dict[str, Any]]]:
    """(kind, data) of every row about `subject`, oldest first."""
    with store.session() as s:
        rows = s.scalars(select(EngagementLog).where(EngagementLog.subject == subject).order_by(EngagementLog.id))
        return [(r.kind, json.loads(r.data)) for r in rows]
