"""Ordered moderation rules -> verdict. The first rule that matches decides; no rule means allow.

The default rule list is empty (pass-through); signals (toxicity, spam, PII) plug in here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ACTIONS = ("allow", "flag", "hide", "warn", "mute", "ban")
BLOCKING = {"hide", "mute", "ban"}


@dataclass(frozen=True)
class Rule:
    name: str
    action: str
    pattern: str | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"rule {self.name!r}: unknown action {self.action!r}; use one of {ACTIONS}")

    def matches(self, text: str) -> bool:
        return bool(self.pattern and re.search(self.pattern, text, re.IGNORECASE))


@dataclass(frozen=True)
class Verdict:
    action: str = "allow"
    rule: str | None = None
    dry_run: bool = False
    details: dict[str, object] = field(default_factory=dict)

    @property
    def blocks_reply(self) -> bool:
        """Hidden, muted or banned messages get no conversational reply (unless dry-run)."""
        return self.action in BLOCKING and not self.dry_run


class ModerationPolicy:
    def __init__(self, rules: list[Rule] | None = None, dry_run: bool = False) -> None:
        self.rules = list(rules or [])
        self.dry_run = dry_run

    def check(self, text: str) -> Verdict:
        for rule in self.rules:
            if rule.matches(text):
                return Verdict(rule.action, rule.name, self.dry_run, {"pattern": rule.pattern})
        return Verdict()
