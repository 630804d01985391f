"""Poll and giveaway replies in the fan's language (dialogs/phrases.py `poll.*`, `giveaway.*`), through
the real Engagement hook, store, domain and shipped translations; English when no domain is given."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.store.models import utcnow
from dialogs.domain import Domain
from dialogs.engagement import Engagement
from dialogs.phrases import PHRASES
from dialogs.policy import Turn
from dialogs.translation_files import load_translations
from nlu.model import ParseResult
from tests.conftest import REPO

LANGS = ("en", "es", "de", "fr", "pt", "it", "nl", "pl", "tr", "ru", "ar", "hi")
WHO = {"channel": "test", "chat_id": "g", "user_id": "u1"}


def _domain() -> Domain:
    domain = Domain.load(REPO / "dialogs" / "domain.yml")
    domain.use_translations(load_translations(REPO / "dialogs" / "translations"))
    return domain


def _vote(poll: int, option: int) -> ParseResult:
    """A pressed vote button: the payload `/poll_vote{...}` as the NLU reports it."""
    return ParseResult(text=f'/poll_vote{{"poll": {poll}, "option": {option}}}', intent="poll_vote", confidence=1.0,
                       fallback=False, ranking=[("poll_vote", 1.0)],
                       entities=[{"entity": "poll", "value": poll}, {"entity": "option", "value": option}],
                       language="und", encoder=None, model_version="payload")


def _reply(e: Engagement, parse: ParseResult, language: str | None) -> str:
    d = e.decide(parse, {}, Turn(1, parse.text, language=language), WHO)
    assert d is not None
    return d.replies[0].text


def test_every_engagement_phrase_is_translated_into_every_demo_language() -> None:
    domain = _domain()
    keys = [k for k in PHRASES if k.startswith(("poll.", "giveaway."))]
    assert len(keys) >= 15
    missing = [(k, lang) for k in keys for lang in LANGS[1:] if lang not in domain.phrases.get(k, {})]
    assert not missing


@pytest.mark.parametrize(("language", "expected"), [
    ("es", "¡Gracias! Tu voto por Sky blue está registrado. ✅"),
    ("pl", "Dzięki! Twój głos na Sky blue został zapisany. ✅"),
    ("ar", "شكرًا! تم تسجيل صوتك لـ Sky blue. ✅"),
    ("xx", "Thanks! Your vote for Sky blue is in. ✅"),  # no such language: English, the last fallback
])
def test_a_vote_is_confirmed_in_the_fans_language(store: Any, language: str, expected: str) -> None:
    e = Engagement(store, _domain())
    p = e.polls.create(question="Next colour?", options=["Midnight blue", "Sky blue"], channel="test", chats=["g"],
                       style="buttons")
    e.polls.open_due()
    assert _reply(e, _vote(p.id, 2), language) == expected


def test_giveaway_entry_and_closed_poll_in_german_and_english_without_a_domain(store: Any) -> None:
    e = Engagement(store, _domain())
    g = e.giveaways.create(prize="Buds Pro", winners=1, channel="test", closes_at=utcnow() + timedelta(days=1),
                           opens_at=utcnow() - timedelta(seconds=1))
    e.giveaways.open_due()
    entry = ParseResult(text="/giveaway_enter", intent="giveaway_enter", confidence=1.0, fallback=False,
                        ranking=[("giveaway_enter", 1.0)], entities=[{"entity": "giveaway", "value": g.id}],
                        language="und", encoder=None, model_version="payload")
    assert _reply(e, entry, "de").startswith("Du bist beim Gewinnspiel um Buds Pro dabei!")
    assert _reply(e, entry, "de").startswith("Du bist beim Gewinnspiel um Buds Pro schon dabei")
    plain = Engagement(store)
    assert _reply(plain, entry, "de") == PHRASES["giveaway.already"].format(prize="Buds Pro")
    p = plain.polls.create(question="Elsewhere?", options=["Yes", "No"], channel="other", chats=["x"], style="buttons")
    plain.polls.open_due()
    assert _reply(Engagement(store, _domain()), _vote(p.id, 1), "fr") == "Désolé, ce sondage n'a pas lieu dans ce chat."
