"""The policy: ordered rules, explainable verdicts, strikes, allow-lists, dry-run."""

from __future__ import annotations

import pytest

from moderation.rules import STANDARD_RULES, ModerationPolicy, Rule, Subject
from moderation.signals import Signals


def test_first_matching_rule_decides_and_names_signal_and_score():
    p = ModerationPolicy([Rule("hate", "hide", signal="hate", min_score=0.8),
                          Rule("rude", "flag", signal="offensive", min_score=0.5)])
    v = p.decide("text", Signals(offensive=0.9, hate=0.85), Subject("u", "c"))
    assert (v.action, v.rule, v.signal, v.score) == ("hide", "hate", "hate", 0.85)
    v = p.decide("text", Signals(offensive=0.6, hate=0.1), Subject("u", "c"))
    assert (v.action, v.rule, v.score) == ("flag", "rude", 0.6)
    assert p.decide("text", Signals(), Subject("u", "c")).action == "allow"


def test_pattern_rules_see_through_leetspeak():
    p = ModerationPolicy([Rule("no-competitor", "hide", pattern=r"\bacme watches\b")])
    assert p.check("buy 4cm3 w4tch3s instead").action == "hide"


def test_strikes_escalate_to_mute_then_ban():
    p = ModerationPolicy([Rule("rude", "hide", signal="offensive", min_score=0.5)], mute_after=3, ban_after=5)
    sig = Signals(offensive=0.9)
    assert p.decide("x", sig, Subject("u", "c", active_strikes=1)).action == "hide"
    v = p.decide("x", sig, Subject("u", "c", active_strikes=2))
    assert v.action == "mute" and v.details["escalated_from"] == "hide" and v.details["strikes"] == 3
    assert p.decide("x", sig, Subject("u", "c", active_strikes=4)).action == "ban"


def test_admins_are_exempt_and_trusted_fans_only_flagged():
    p = ModerationPolicy([Rule("rude", "ban", signal="offensive")], admins={"boss"}, trusted={"old-fan"})
    sig = Signals(offensive=1.0)
    assert p.decide("x", sig, Subject("boss", "c")).action == "allow"
    assert p.decide("x", sig, Subject("someone", "c", is_admin=True)).action == "allow"
    v = p.decide("x", sig, Subject("old-fan", "c"))
    assert v.action == "flag" and v.details["would_be"] == "ban"


def test_dry_run_records_but_does_not_block():
    p = ModerationPolicy([Rule("rude", "hide", signal="offensive")], dry_run_chats={"test-group"})
    v = p.decide("x", Signals(offensive=1.0), Subject("u", "test-group"))
    assert v.action == "hide" and v.dry_run and not v.blocks_reply
    assert p.decide("x", Signals(offensive=1.0), Subject("u", "other")).blocks_reply


def test_rules_can_be_limited_to_chats():
    p = ModerationPolicy([Rule("links", "hide", signal="link", min_score=1, chats=("g1",))])
    assert p.decide("x", Signals(links=1), Subject("u", "g1")).action == "hide"
    assert p.decide("x", Signals(links=1), Subject("u", "g2")).action == "allow"


def test_bad_rules_are_refused():
    with pytest.raises(ValueError):
        Rule("x", "explode", signal="spam")
    with pytest.raises(ValueError):
        Rule("x", "hide")


def test_standard_rules_catch_card_numbers_and_scam_links():
    p = ModerationPolicy(list(STANDARD_RULES))
    assert p.decide("x", Signals(pii={"card": 1}), Subject("u", "c")).rule == "card-number"
    assert p.decide("x", Signals(spam=1.0, spam_reasons=["crypto", "link", "scam_link"]), Subject("u", "c")).rule \
        == "scam-link"
