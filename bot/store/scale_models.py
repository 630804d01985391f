"""Rows that let several fancare processes share one PostgreSQL (migration 0007).

- `leases`: a named lease held by one process until a time on the database's clock: the Telegram
  polling leader, a timer round. Taken and renewed with one conditional UPDATE.
- `rate_slots`: one row per send-rate key (the bot, a chat, a group, a Slack channel) holding the
  next free send time in epoch seconds (GCRA's "theoretical arrival time"), so every worker paces
  its sends against the same limit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base


class Lease(Base):
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(128))
    until: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)


class RateSlot(Base):
    __tablename__ = "rate_slots"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tat: Mapped[float] = mapped_column(Float, nullable=False)
