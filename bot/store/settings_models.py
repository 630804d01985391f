"""Brand-wide switches that every fancare process must agree on (migration 0006).

`runtime_settings` is a small key -> JSON table. Today it holds the crisis playbook
(`crisis_playbook`: on/off, who switched it, the holding statement and the messages pinned for it),
so that `/fancare crisis on` in Slack changes what every process answers, and a restart keeps it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base, utcnow


class RuntimeSetting(Base):
    __tablename__ = "runtime_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_by: Mapped[str] = mapped_column(String(128), default="fancare")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
