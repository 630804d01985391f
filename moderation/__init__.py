"""Moderation: ordered rules that turn a message (and its signals) into a verdict."""

from moderation.rules import ModerationPolicy, Rule, Verdict

__all__ = ["ModerationPolicy", "Rule", "Verdict"]
