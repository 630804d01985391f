"""Ordered moderation rules -> verdict. The first rule that matches decides; no rule means allow.

A rule fires on a signal above a score (`signal: offensive, min_score: 0.8`), on a regular
expression over the raw or normalised text, or on both. Strikes then escalate: a fan whose recent
strikes reach `mute_after` is muted, `ban_after` banned. Admins are never acted on; trusted fans
are at most flagged. In dry-run everything is recorded as it would have happened, and nothing is
enforced. Every verdict names its rule, the signal that fired and its score (explainable).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from moderation.normalize import normalize
from moderation.signals import Signals

ACTIONS = ("allow", "flag", "hide", "warn", "mute", "ban")
BLOCKING = {"hide", "mute", "ban"}
SEVERITY = {a: i for i, a in enumerate(ACTIONS)}
_APPEAL = re.compile(
    r"\bwhy (?:was|were|did|is|has|have)\b.{0,30}\b(?:comment|message|post|msg|reply)s?\b.{0,20}"
    r"\b(?:deleted|removed|hidden|hid|delete|remove|censored)\b|\bwhy (?:did|do|have|would) (?:you|they|the "
    r"(?:mods?|admins?|bot))\b.{0,15}\b(?:delete|remove|hide|censor)d?\b.{0,15}\b(?:comment|message|post|msg|reply)"
    r"|\bwhy (?:am|was|did) (?:i|you)\b.{0,20}"
    r"\b(?:muted|banned|mute|ban|restricted|silenced)\b|\b(?:unban|unmute) me\b|\bappeal\b.{0,20}\b(?:ban|mute|"
    r"removal|deletion|decision)\b")


@dataclass(frozen=True)
class Rule:
    name: str
    action: str
    pattern: str | None = None
    signal: str | None = None
    min_score: float = 0.5
    strike: float | None = None  # strikes added when it fires; default: 1 unless flag/allow
    mute_minutes: int = 60
    notice: bool = False  # a short public notice in the chat when enforced
    chats: tuple[str, ...] | None = None  # only in these chats (None: everywhere)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"rule {self.name!r}: unknown action {self.action!r}; use one of {ACTIONS}")
        if self.pattern is None and self.signal is None:
            raise ValueError(f"rule {self.name!r}: give a signal, a pattern or both")
        if self.pattern is not None:
            re.compile(self.pattern)

    @property
    def strike_weight(self) -> float:
        if self.strike is not None:
            return self.strike
        return 0.0 if self.action in ("allow", "flag") else 1.0

    def matches(self, text: str, signals: Signals | None = None, normalized: str | None = None) -> float | None:
        """The score that made it fire (1.0 for a pattern-only rule), or None."""
        if self.pattern is not None:
            norm = normalized if normalized is not None else normalize(text)
            if not (re.search(self.pattern, text, re.IGNORECASE) or re.search(self.pattern, norm, re.IGNORECASE)):
                return None
        if self.signal is None:
            return 1.0
        if signals is None:
            return None
        score = signals.score(self.signal)
        return score if score >= self.min_score else None


@dataclass(frozen=True)
class Verdict:
    action: str = "allow"
    rule: str | None = None
    dry_run: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def blocks_reply(self) -> bool:
        """Hidden, muted or banned messages get no conversational reply (unless dry-run)."""
        return self.action in BLOCKING and not self.dry_run

    @property
    def signal(self) -> str | None:
        return self.details.get("signal")

    @property
    def score(self) -> float | None:
        return self.details.get("score")


@dataclass(frozen=True)
class Subject:
    """Who wrote, where, and what they already have against them."""

    user_id: str = ""
    chat_id: str = ""
    is_admin: bool = False
    active_strikes: float = 0.0


@dataclass
class ModerationPolicy:
    rules: list[Rule] = field(default_factory=list)
    dry_run: bool = False
    admins: set[str] = field(default_factory=set)
    trusted: set[str] = field(default_factory=set)
    mute_after: float = 3.0
    ban_after: float = 5.0
    strike_decay_days: float = 30.0
    dry_run_chats: set[str] = field(default_factory=set)

    def check(self, text: str) -> Verdict:
        """Pattern rules only, no signals (kept for callers that have just the text)."""
        return self.decide(text, None, Subject())

    def decide(self, text: str, signals: Signals | None, who: Subject) -> Verdict:
        dry = self.dry_run or who.chat_id in self.dry_run_chats
        if who.is_admin or who.user_id in self.admins:
            return Verdict(dry_run=dry, details={"exempt": "admin"})
        norm = normalize(text)
        for rule in self.rules:
            if rule.chats is not None and who.chat_id not in rule.chats:
                continue
            score = rule.matches(text, signals, norm)
            if score is None:
                continue
            action = rule.action
            details: dict[str, Any] = {"signal": rule.signal or "pattern", "score": round(score, 4),
                                       "min_score": rule.min_score if rule.signal else None,
                                       "strike": rule.strike_weight, "mute_minutes": rule.mute_minutes,
                                       "notice": rule.notice}
            if rule.signal in ("spam", "spam_intent") and signals is not None:
                details["reasons"] = list(signals.spam_reasons)
            strikes = who.active_strikes + rule.strike_weight
            if rule.strike_weight > 0:
                details["strikes"] = strikes
                if strikes >= self.ban_after and SEVERITY["ban"] > SEVERITY[action]:
                    action, details["escalated_from"] = "ban", rule.action
                elif strikes >= self.mute_after and SEVERITY["mute"] > SEVERITY[action]:
                    action, details["escalated_from"] = "mute", rule.action
            if who.user_id in self.trusted and SEVERITY[action] > SEVERITY["flag"]:
                details["trusted"], details["would_be"] = True, action
                action = "flag"
            return Verdict(action, rule.name, dry, details)
        return Verdict(dry_run=dry)

    @staticmethod
    def is_appeal(text: str) -> bool:
        """A fan asking why they were moderated: always goes to a human."""
        return bool(_APPEAL.search(normalize(text)))


# First match decides, so every rule that hides or mutes comes before the rules that only flag: a
# "maybe" reading (e.g. the NLU half-reading a repeated "JOIN MY CHANNEL" as spam) must never shield a
# message from a rule that would hide it (a repeat, a card number, zalgo).
STANDARD_RULES = [
    Rule("hate", "hide", signal="hate", min_score=0.8, strike=2, notice=True),
    Rule("threat-or-slur", "hide", pattern=r"\b(?:kill yourself|kys|die in a fire)\b", strike=2, notice=True),
    Rule("offensive", "hide", signal="offensive", min_score=0.85, notice=True),
    Rule("scam-link", "hide", signal="spam.scam_link", min_score=1.0, strike=2, notice=True),
    Rule("spam", "hide", signal="spam", min_score=0.7),
    # the NLU's `spam` reading backed by a spam reason or commercial wording (signals.read_spam_intent);
    # groups and comments only: moderation/context.py allows it in a private chat
    Rule("spam-intent", "hide", signal="spam_intent", min_score=0.8),
    Rule("flood", "mute", signal="flood", min_score=8, mute_minutes=10),
    Rule("repeat", "hide", signal="repeat", min_score=2),
    Rule("card-number", "hide", signal="pii.card", min_score=1, strike=0, notice=True),
    Rule("iban", "hide", signal="pii.iban", min_score=1, strike=0),
    Rule("zalgo", "hide", signal="zalgo", min_score=0.5, strike=0),
    Rule("offensive-maybe", "flag", signal="offensive", min_score=0.6),
    Rule("spam-maybe", "flag", signal="spam", min_score=0.45),
    Rule("spam-intent-maybe", "flag", signal="spam_intent", min_score=0.5),
    Rule("pii", "flag", signal="pii", min_score=1),
]
