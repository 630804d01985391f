"""SQLAlchemy models: everything that matters lives here, so several processes can share one DB.

Conversation state (slots, forms, fallbacks), dedup (unique channel + external id), the outbox
(outbound messages with a status) and escalations are rows, never in-process dicts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def epoch_seconds(at: datetime) -> float:
    """Seconds since the epoch of a naive-UTC store timestamp (as `utcnow` writes them)."""
    return at.replace(tzinfo=UTC).timestamp()


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


Id = BigInteger().with_variant(Integer, "sqlite")
#: inbound messages not yet handled (nor dead): the partial indexes of the work queue
_WAITING = text("direction = 'in' AND status IN ('received', 'processing')")


class Contact(Base):
    """A fan as seen on one channel (the same person on Telegram and in the shell is two contacts)."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_contact_channel_ext"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(String(256))
    language: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(DateTime)


class Conversation(Base):
    """One fan in one chat. `state` holds dialog state; `lock_*` is the cross-process lease."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "chat_id", "contact_id", name="uq_conv_chat_contact"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active_escalation_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    lock_owner: Mapped[str | None] = mapped_column(String(64))
    lock_until: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Message(Base):
    """Inbound and outbound messages. Inbound: received -> processing -> handled.
    Outbound (the outbox): pending -> sent, or failed / dead after retries."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "direction", "external_id", name="uq_msg_channel_dir_ext"),
        Index("ix_msg_conv", "conversation_id", "id"),
        Index("ix_msg_status", "direction", "status"),
        # only the inbound rows still waiting for a worker: the work queue's scans (bot/store/work.py)
        Index("ix_msg_waiting", "id", postgresql_where=_WAITING, sqlite_where=_WAITING),
        Index("ix_msg_waiting_conv", "conversation_id", "id", postgresql_where=_WAITING, sqlite_where=_WAITING),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(128))
    sender: Mapped[str] = mapped_column(String(16), default="fan")  # fan | bot | operator
    text: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(DateTime)


class NLUResult(Base):
    __tablename__ = "nlu_results"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    intent: Mapped[str] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float)
    fallback: Mapped[bool] = mapped_column(default=False)
    ranking: Mapped[list[Any]] = mapped_column(JSON, default=list)
    entities: Mapped[list[Any]] = mapped_column(JSON, default=list)
    language: Mapped[str | None] = mapped_column(String(16))
    encoder: Mapped[str | None] = mapped_column(String(32))
    model_version: Mapped[str | None] = mapped_column(String(64))
    signals: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Escalation(Base):
    """A conversation handed to humans: open -> claimed -> resolved | handed_back."""

    __tablename__ = "escalations"
    __table_args__ = (Index("ix_esc_state", "state"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    queue: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(16))
    reason: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    transcript: Mapped[list[Any]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16), default="open")
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    csat: Mapped[int | None] = mapped_column(Integer)


class AuditEvent(Base):
    """Append-only event log (no updates, no deletes: enforced in Store). Holds ids, never PII."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_kind", "kind"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128), default="fancare")
    conversation_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# The Slack console's tables share this metadata (Alembic autogenerate sees them).
from bot.store import engagement_models as _engagement_models  # noqa: E402,F401
from bot.store import moderation_models as _moderation_models  # noqa: E402,F401
from bot.store import review_models as _review_models  # noqa: E402,F401
from bot.store import scale_models as _scale_models  # noqa: E402,F401
from bot.store import settings_models as _settings_models  # noqa: E402,F401
from bot.store import slack_models as _slack_models  # noqa: E402,F401
