"""Tables of the Slack operator console (migration 0002).

- `slack_tickets`: one row per escalation posted to Slack; the card's channel and ts are the thread
  that relays run through, and the SLA re-post bookkeeping lives here.
- `slack_posts`: the durable operator outbox. Every Slack write (card, relayed fan message, notice,
  card update, SLA re-post) is a row first, delivered in id order per escalation, retried with
  Retry-After, and dead-lettered after `channels.slack.max_attempts` failures.
- `slack_seen`: keys of Slack deliveries already handled (event ids, message ts), so Slack's
  retries and replays have their effect once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base, Id, utcnow


class SlackTicket(Base):
    __tablename__ = "slack_tickets"
    __table_args__ = (Index("ix_slack_ticket_thread", "channel", "ts"),)

    escalation_id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    channel: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str | None] = mapped_column(String(32))
    sla_reposts: Mapped[int] = mapped_column(Integer, default=0)
    sla_last_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SlackPost(Base):
    """kind: card | fan | notice | update | sla | alert | file | modreview (escalation 0: brand-wide) | erase
    (privacy: chat.update or chat.delete of the message whose ts is in `blocks`).
    status: pending -> sending -> sent | dead."""

    __tablename__ = "slack_posts"
    __table_args__ = (Index("ix_slack_post_status", "status", "id"), Index("ix_slack_post_esc", "escalation_id", "id"))

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    escalation_id: Mapped[int] = mapped_column(Id)
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text, default="")
    blocks: Mapped[list[Any]] = mapped_column(JSON, default=list)
    in_thread: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(String(256))
    ts: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)


class SlackSeen(Base):
    __tablename__ = "slack_seen"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
