"""Tables of polls and giveaways (migration 0005).

- `polls` / `poll_posts` / `poll_votes`: a poll, where it was posted (a Telegram native poll id maps a
  `poll_answer` update back to it), and one vote row per fan per poll (unique: the store, not the
  code, enforces "one vote"). Anonymous polls keep only a keyed hash of the voter.
- `giveaways` / `giveaway_entries`: a giveaway with its secret seed (revealed only after the draw)
  and one entry per fan (unique constraint), with close times in the store so that a restart
  cannot keep entries open.
- `engagement_log`: the append-only, hash-chained audit log of both. Each row's hash covers the
  previous row's hash, and `prev_hash` is unique, so the chain can neither fork (two writers) nor be
  edited without `verify_chain` noticing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base, Id, utcnow


class Poll(Base):
    """status: scheduled -> open -> closed. `style`: native (Telegram sendPoll) or buttons."""

    __tablename__ = "polls"
    __table_args__ = (Index("ix_poll_status", "status", "closes_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    question: Mapped[str] = mapped_column(String(300))
    options: Mapped[list[Any]] = mapped_column(JSON, default=list)
    multiple: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    changeable: Mapped[bool] = mapped_column(Boolean, default=True)
    style: Mapped[str] = mapped_column(String(16), default="native")
    channel: Mapped[str] = mapped_column(String(32), default="telegram")
    chats: Mapped[list[Any]] = mapped_column(JSON, default=list)
    salt: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    opens_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    closes_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(128), default="cli")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)


class PollPost(Base):
    """One poll posted in one chat; `native_id` is Telegram's poll id (poll_answer updates carry it)."""

    __tablename__ = "poll_posts"
    __table_args__ = (UniqueConstraint("poll_id", "chat_id", name="uq_poll_post_chat"),
                      UniqueConstraint("native_id", name="uq_poll_post_native"))

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    poll_id: Mapped[int] = mapped_column(Id)
    chat_id: Mapped[str] = mapped_column(String(128))
    native_id: Mapped[str | None] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(64))
    stopped: Mapped[bool] = mapped_column(Boolean, default=False)


class PollVote(Base):
    __tablename__ = "poll_votes"
    __table_args__ = (UniqueConstraint("poll_id", "voter", name="uq_poll_vote_voter"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    poll_id: Mapped[int] = mapped_column(Id)
    voter: Mapped[str] = mapped_column(String(128))  # "channel:user" or, when anonymous, a keyed hash
    options: Mapped[list[Any]] = mapped_column(JSON, default=list)
    changes: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Giveaway(Base):
    """status: scheduled -> open -> closed -> drawn. The seed stays secret until status is drawn."""

    __tablename__ = "giveaways"
    __table_args__ = (Index("ix_giveaway_status", "status", "closes_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    prize: Mapped[str] = mapped_column(String(300))
    winners: Mapped[int] = mapped_column(Integer, default=1)
    channel: Mapped[str] = mapped_column(String(32), default="telegram")
    keyword: Mapped[str | None] = mapped_column(String(64))
    question: Mapped[str | None] = mapped_column(String(300))
    answer: Mapped[str | None] = mapped_column(String(300))
    member_of: Mapped[str | None] = mapped_column(String(128))
    entry_post: Mapped[str | None] = mapped_column(String(64))  # "channel id:post id": comments under it enter
    announce: Mapped[list[Any]] = mapped_column(JSON, default=list)
    seed: Mapped[str] = mapped_column(String(64))
    commitment: Mapped[str] = mapped_column(String(64))
    entries_hash: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    opens_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    closes_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(128), default="cli")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class GiveawayEntry(Base):
    __tablename__ = "giveaway_entries"
    __table_args__ = (UniqueConstraint("giveaway_id", "entrant", name="uq_giveaway_entrant"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    giveaway_id: Mapped[int] = mapped_column(Id)
    entrant: Mapped[str] = mapped_column(String(160))  # "channel:user id", the id the draw ranks
    display_name: Mapped[str | None] = mapped_column(String(256))
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    answer: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class EngagementLog(Base):
    __tablename__ = "engagement_log"
    __table_args__ = (UniqueConstraint("prev_hash", name="uq_engagement_log_prev"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    subject: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128))
    data: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly the bytes that were hashed
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
