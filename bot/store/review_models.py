"""Tables and indexes of the insight loop (migration 0004).

- `review_decisions`: what a trainer decided about an unclear message, keyed by a hash of its
  normalised text so the same wording never comes back to the inbox. No message text is stored here
  (the text lives in `messages`, which privacy erasure wipes; a labelled example is in the training
  data because the trainer put it there).
- indexes the analytics report needs to stay fast on a year of data: messages and NLU results by
  time, escalations and audit events by conversation and time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import AuditEvent, Base, Escalation, Id, Message, NLUResult, utcnow


class ReviewDecision(Base):
    """decision: accept | relabel | new_intent | out_of_scope (each with `label`) or skip."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    text_key: Mapped[str] = mapped_column(String(64), unique=True)
    decision: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(64))
    predicted: Mapped[str | None] = mapped_column(String(64))
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    decided_by: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


Index("ix_msg_dir_created", Message.direction, Message.created_at)
Index("ix_nlu_created", NLUResult.created_at)
Index("ix_esc_conv_created", Escalation.conversation_id, Escalation.created_at)
Index("ix_esc_created", Escalation.created_at)
Index("ix_audit_kind_at", AuditEvent.kind, AuditEvent.at)
