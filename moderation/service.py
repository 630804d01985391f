"""`Moderator`: signals + policy + strikes + platform actions + crisis watch, as the pipeline uses them.

The pipeline calls, per message: `signals()` (after the NLU parse, reusing its embedding), `judge()`
(reads the fan's active strikes), and after its commit `after_commit()` (platform actions). The
crisis monitor (`crisis`) is fed from the store by `moderation.crisis_feed.CrisisWatch`. Recording the verdict happens inside the pipeline's transaction via `record()`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from bot.store import Store
from moderation.actions import LogActions, ModerationActions, Target, apply
from moderation.crisis import CrisisMonitor
from moderation.review import active_strikes, last_action, record_verdict
from moderation.rules import ModerationPolicy, Subject, Verdict
from moderation.signals import SignalExtractor, Signals

log = logging.getLogger("fancare.moderation")


@dataclass
class Moderator:
    policy: ModerationPolicy = field(default_factory=ModerationPolicy)
    extractor: SignalExtractor = field(default_factory=SignalExtractor)
    actions: dict[str, ModerationActions] = field(default_factory=dict)  # channel name -> port
    default_actions: ModerationActions = field(default_factory=LogActions)
    crisis: CrisisMonitor | None = None
    notice_text: str = "A message was removed under the community rules ({rule})."
    appeal_queue: str = "moderation"

    def signals(self, text: str, *, embedding: Any, encoder: str | None, sender: str, chat: str,
                language: str | None, recent: list[tuple[str, float]] | None = None,
                now: float | None = None, intents: list[tuple[str, float]] | None = None) -> Signals:
        return self.extractor.extract(text, embedding=embedding, encoder=encoder, sender=sender, chat=chat,
                                      language=language, recent=recent, now=now, intents=intents)

    @property
    def flood_window_s(self) -> float:
        return self.extractor.flood.window_s

    def judge(self, store: Store, text: str, signals: Signals, *, channel: str, chat_id: str, user_id: str,
              is_admin: bool = False) -> Verdict:
        strikes = 0.0
        if self.policy.rules:
            with store.session() as s:
                strikes = active_strikes(s, channel, chat_id, user_id, self.policy.strike_decay_days)
        return self.policy.decide(text, signals, Subject(user_id, chat_id, is_admin, strikes))

    @staticmethod
    def last_action(store: Store, **who: str) -> dict[str, Any] | None:
        return last_action(store, channel=who["channel"], chat_id=who["chat_id"], user_id=who["user_id"])

    def is_appeal(self, text: str) -> bool:
        return self.policy.is_appeal(text)

    @staticmethod
    def record(s: Session, verdict: Verdict, **where: Any) -> int | None:
        if verdict.action == "allow":
            return None
        return record_verdict(s, verdict, **where).id

    async def after_commit(self, verdict: Verdict, target: Target) -> list[str]:
        """Enforce on the platform (never for dry runs); the calls that succeeded. The crisis
        monitor is fed from the store by `moderation.crisis_feed.CrisisWatch`, not from here, so
        that every process sees the whole brand."""
        if verdict.action not in ("allow", "flag") and not verdict.dry_run:
            port = self.actions.get(target.channel, self.default_actions)
            return await apply(port, verdict, target, self.notice_text)
        return []
