"""Normalisation, PII, spam and flood rules: pure functions, no model."""

from __future__ import annotations

import pytest

from moderation.normalize import normalize, zalgo_ratio
from moderation.pii import find_pii, iban_ok, luhn_ok
from moderation.rules import ModerationPolicy
from moderation.signals import SignalExtractor
from moderation.spam import FloodTracker, spam_score


@pytest.mark.parametrize(("raw", "plain"), [
    ("You 1d10t", "you idiot"),
    ("fr33 b1tc0in", "free bitcoin"),
    ("i.d.i.o.t", "idiot"),
    ("Ｆｒｅｅ ｍｏｎｅｙ", "free money"),  # fullwidth
    ("Раураl", "paypal"),  # Cyrillic homoglyphs
    ("s̷̢̛t̶̨̛u̸̡p̴̢i̵̡d̶̢", "stupid"),  # zalgo
    ("sh!t!!!", "shit!!"),
])
def test_tricks_are_undone_before_scoring(raw, plain):
    assert normalize(raw) == plain


def test_codes_numbers_emails_and_urls_survive_normalisation():
    assert normalize("order VT-482913 in 2024, 10pm, 4k") == "order vt-482913 in 2024, 10pm, 4k"
    assert normalize("mail me at Sam.1@Example.com or https://Voltora.com/x1") == \
        "mail me at sam.1@example.com or https://voltora.com/x1"


def test_zalgo_ratio_separates_noise_from_accents():
    assert zalgo_ratio("h̷̢̛̖e̶̡̛l̸̨̛l̴̢̛o̵̢̧") > 0.5
    assert zalgo_ratio("café crème") < 0.2


def test_luhn_and_iban_checks():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("DE89 3704 0044 0532 0130 00") and not iban_ok("DE89 3704 0044 0532 0130 01")


def test_pii_kinds_are_found_and_look_alikes_are_not():
    found = find_pii("card 4111 1111 1111 1111, iban DE89370400440532013000, sam@example.com, call +49 151 2345 6789")
    assert found == {"card": 1, "iban": 1, "email": 1, "phone": 1}
    assert find_pii("order VT-482913, card 4111 1111 1111 1112, 2024 and 10:30") == {}


def test_spam_patterns_fire_with_reasons_and_allowed_links_do_not():
    score, why = spam_score(normalize("Earn $500 a day with b1tc0in! bit.ly/xx"), "bit.ly/xx")
    assert score >= 0.9 and {"crypto", "money_promise", "scam_link", "shortener_or_invite"} <= set(why)
    assert "follow4follow" in spam_score(normalize("f4f anyone? follow me"), "")[1]
    assert "phishing" in spam_score(normalize("verify your account here or it will be closed"), "")[1]
    ok_score, ok_why = spam_score(normalize("the manual is on voltora.com/help"), "voltora.com/help", {"voltora.com"})
    assert ok_score == 0.0 and ok_why == []


def test_flood_and_repeats_are_counted_per_sender_and_window():
    ft = FloodTracker(window_s=60)
    for i in range(5):
        n, rep = ft.observe("chat", "u1", "buy now", now=float(i))
    assert (n, rep) == (5, 4)
    assert ft.observe("chat", "u2", "buy now", now=5.0) == (1, 0)  # another fan
    assert ft.observe("chat", "u1", "hello", now=100.0) == (1, 0)  # the window moved on


def test_flood_counted_from_stored_messages_uses_arrival_times():
    from moderation.spam import count_recent

    recent = [("buy now", 95.0), ("buy now", 90.0), ("hi", 80.0), ("buy now", 10.0)]  # 10.0: outside 60 s
    assert count_recent("buy now", recent, now=100.0, window_s=60) == (4, 2)
    assert count_recent("buy now", [], now=100.0, window_s=60) == (1, 0)


def test_emoji_flood_and_huge_messages_are_scored_quickly():
    ex = SignalExtractor()
    sig = ex.extract("🔥" * 5000 + " idiot " + "x" * 200_000, sender="u", chat="c")
    assert sig.emoji > 0.02 and sig.offensive == 1.0 and sig.length > 200_000


def test_lexicon_fallback_scores_without_trained_heads():
    ex = SignalExtractor()
    sig = ex.extract("you are a l0ser, worst brand ever", sender="u", chat="c")
    assert sig.source == "lexicon" and sig.offensive == 1.0 and sig.sentiment == "negative"


@pytest.mark.parametrize("text", ["why was my comment deleted?", "Why did you remove my post??",
                                  "why am I muted", "unban me please"])
def test_appeals_are_recognised(text):
    assert ModerationPolicy.is_appeal(text)


@pytest.mark.parametrize("text", ["why was my order cancelled", "can you delete my account", "where is my post office"])
def test_non_appeals_are_not(text):
    assert not ModerationPolicy.is_appeal(text)


@pytest.mark.parametrize("text", [
    "IMEI 490154203237518",  # Luhn-valid, 15 digits: a phone's IMEI, not a card
    "my watch's IMEI is 356938035643809, it won't pair",
    "356938035643809",
    "the update arrived on 2026-11-20 at 10:30",
    "tracking number 9400111899223344556677",
    "my order 732201349959 never arrived",  # a Bitext order number
    "order number 4111111111111111",  # the word "order" right before it
    "order VT-482913 please",
    "firmware 1.2.3 broke the sync",
    "version 10.2.3.4",
    "my router is at 192.168.1.20",
    "I need help with canceling purchase 00004587345",  # Bitext: "00" + zeros is no country code
])
def test_identifiers_dates_and_versions_are_not_pii(text):
    assert find_pii(text) == {}


@pytest.mark.parametrize(("text", "kind"), [
    ("my card is 4111 1111 1111 1111", "card"),
    ("5555555555554444", "card"),
    ("amex 3782 822463 10005", "card"),
    ("call me on +49 151 2345 6789", "phone"),
    ("ring 0612345678 after six", "phone"),  # Dutch mobile, national format
    ("my number is (415) 555-2671", "phone"),
    ("+44 7700 900123", "phone"),
])
def test_real_cards_and_phones_are_found(text, kind):
    assert find_pii(text) == {kind: 1}


def test_phone_regions_and_order_format_come_from_config():
    from bot.config import FancareConfig

    assert find_pii("020 7946 0958", regions=["GB"]) == {"phone": 1}
    assert find_pii("020 7946 0958", regions=["US"]) == {}
    assert find_pii("order AB-123456789", order_pattern=r"\bAB-\d{9}\b") == {}
    cfg = FancareConfig.model_validate({"moderation": {"phone_regions": ["GB"]}})
    assert cfg.moderation.phone_regions == ["GB"]
    ex = SignalExtractor(phone_regions=["US"])
    assert ex.extract("020 7946 0958").pii == {}
    assert SignalExtractor(phone_regions=["GB"]).extract("020 7946 0958").pii == {"phone": 1}
