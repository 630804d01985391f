"""The work queue of `fancare worker`: which fan messages a worker takes next.

A fan's messages must be handled in the order they arrived, whichever worker takes them, and two
workers must never take the same conversation at once. So a worker takes *conversations*, each with
exactly one message: the conversation's oldest unfinished inbound message (status `received`, or
`processing` with an expired lease: its worker died), and never a message while an older one of the
same conversation is unfinished (still being processed, or waiting for its lease to run out).

The claim is the conversation lease (`conversations.lock_owner`/`lock_until`), set in the same
transaction that chose the rows; `Pipeline.process` then finds the lease already its own and takes
the message's inbound lease (`processing` + `lease_until`) as it always does. A worker that dies
leaves both leases to expire, and the message is taken again by whoever comes next (its `attempts`
counts the tries; `fancare` dead-letters it after `MAX_INBOUND_ATTEMPTS`).

On PostgreSQL the chosen conversation rows are locked `FOR UPDATE SKIP LOCKED`: N workers asking at
the same moment get disjoint conversations instead of queueing behind each other's locks, and a row
another worker changed after this statement's snapshot is re-checked against the lease conditions.
Lease times are the database's clock (bot/store/clock.py). SQLite has no row locks: there one
UPDATE chooses and leases the conversations (SQLite serialises writers; it serves one process).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, literal, or_, select, update
from sqlalchemy.orm import aliased

from bot.store.models import Conversation, Message
from bot.store.store import Store

__all__ = ["UNFINISHED", "WorkItem", "claim_work"]

#: inbound statuses that still need a worker (`handled` and `dead` are finished)
UNFINISHED = ("received", "processing")


@dataclass(frozen=True)
class WorkItem:
    """One fan message a worker now holds the conversation lease for."""

    message_id: int
    conversation_id: int
    channel: str
    attempts: int  # processing tries before this one


def _takeable(store: Store, channels: Collection[str], *, free: bool = True) -> Any:
    """The oldest unfinished inbound message of each conversation (that nobody holds: `free`), oldest first."""
    now = store.clock.now()
    older = aliased(Message)
    q = (select(Message.id, Message.conversation_id, Message.channel, Message.attempts)
         .join(Conversation, Conversation.id == Message.conversation_id)
         .where(*_waiting(Message), Message.channel.in_(list(channels)),
                or_(Message.status == "received",
                    and_(Message.status == "processing", Message.lease_until < now)),
                ~exists().where(older.conversation_id == Message.conversation_id, older.id < Message.id,
                                *_waiting(older)))
         .order_by(Message.id))
    return q.where(_free(store)) if free else q


def _free(store: Store) -> Any:
    now = store.clock.now()
    return or_(Conversation.lock_owner.is_(None), Conversation.lock_until < now)


def _waiting(m: Any) -> tuple[Any, ...]:
    """The partial indexes' condition (models.py, `ix_msg_waiting*`), written with inline constants:
    SQLite uses a partial index only when the query repeats its terms literally, not as parameters."""
    return (m.direction == literal("in", literal_execute=True),
            m.status.in_([literal(s, literal_execute=True) for s in UNFINISHED]))


def claim_work(store: Store, owner: str, *, channels: Collection[str], limit: int,
               lease_s: float | None = None) -> list[WorkItem]:
    """Take up to `limit` conversations for `owner` (oldest waiting message first) and return their
    next message each. `channels`: the channels this worker can answer on (others wait for one that
    can). `lease_s`: the conversation lease (default `store.conversation_lease_s`)."""
    if limit <= 0 or not channels:
        return []
    ttl = store.conversation_lease_s if lease_s is None else lease_s
    lease = (update(Conversation).values(lock_owner=owner, lock_until=store.clock.later(ttl))
             .returning(Conversation.id).execution_options(synchronize_session=False))
    with store.session() as s:
        if not store.clock.on_server:
            # SQLite: choose and lease in one statement, so the write lock is taken (and waited for)
            # before anything is read; a read first would fail ("database is locked") once another
            # connection commits in between, instead of waiting
            chosen = _takeable(store, channels).with_only_columns(Message.conversation_id).limit(limit)
            won = set(s.scalars(lease.where(Conversation.id.in_(chosen), _free(store))))
            if not won:
                return []
            rows = s.execute(_takeable(store, channels, free=False)
                             .where(Message.conversation_id.in_(won))).all()
            return [WorkItem(r.id, r.conversation_id, r.channel, r.attempts) for r in rows]
        rows = s.execute(_takeable(store, channels).limit(limit)
                         .with_for_update(skip_locked=True, of=Conversation)).all()
        if not rows:
            return []
        won = set(s.scalars(lease.where(Conversation.id.in_([r.conversation_id for r in rows]), _free(store))))
    return [WorkItem(r.id, r.conversation_id, r.channel, r.attempts) for r in rows if r.conversation_id in won]

