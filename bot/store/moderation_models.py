"""Tables of moderation (migration 0003).

- `moderation_items`: every moderation action taken or (in dry-run) that would have been taken, with
  the rule and the signal that fired and its score. Flags wait here as the review queue; a
  moderator's decision (restore / confirm / ban) is kept on the row and becomes a labelled example
  for `fancare train`. Restored rows count as false positives in `fancare moderation report`.
- `moderation_strikes`: strikes per fan and chat; they decay (only recent ones count), so that an
  old slip does not get someone banned a year later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base, Id, utcnow


class ModerationItem(Base):
    """status: pending (flag, waiting for a moderator) | acted (enforced or dry-run) |
    restored | confirmed | banned (a moderator decided)."""

    __tablename__ = "moderation_items"
    __table_args__ = (Index("ix_mod_item_status", "status", "id"), Index("ix_mod_item_rule", "rule"))

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    message_id: Mapped[int | None] = mapped_column(Id)
    conversation_id: Mapped[int | None] = mapped_column(Id)
    channel: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(64))
    signal: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float | None] = mapped_column(Float)
    dry_run: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ModerationStrike(Base):
    __tablename__ = "moderation_strikes"
    __table_args__ = (Index("ix_mod_strike_user", "channel", "chat_id", "user_id", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    rule: Mapped[str] = mapped_column(String(64))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    item_id: Mapped[int | None] = mapped_column(Id)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
