"""Poll and giveaway posts in the right language, through the real Engagement, store, outbox and
shipped translations: a post to a group in the brand's default language, a winner's private
notice in that fan's conversation language; and the giveaway entry that raced another entry of
the same fan, which must still name the prize (it once said "the  giveaway")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from bot.store import Store
from bot.store.engagement_models import GiveawayEntry
from bot.store.models import Message, utcnow
from dialogs.domain import Domain
from dialogs.engagement import Engagement
from dialogs.giveaways import Giveaways
from dialogs.policy import Turn
from dialogs.translation_files import load_translations
from nlu.model import ParseResult
from tests.conftest import REPO

GROUP = "-100555"


def _domain(default: str) -> Domain:
    domain = Domain.load(REPO / "dialogs" / "domain.yml")
    domain.use_translations(load_translations(REPO / "dialogs" / "translations"))
    domain.default_language = default
    return domain


def _sent(store: Store, chat: str) -> list[Message]:
    """The outbox rows queued for `chat` (group posts and private notices alike), oldest first."""
    from bot.store.models import Conversation

    with store.session() as s:
        return list(s.scalars(select(Message).join(Conversation, Conversation.id == Message.conversation_id)
                              .where(Conversation.chat_id == chat, Message.direction == "out")
                              .order_by(Message.id)))


def _fan_speaks(store: Store, user: str, language: str | None, platform: str | None = None) -> None:
    """A fan with a private conversation whose sticky language is `language` (as the pipeline stores it)."""
    with store.session() as s:
        contact = store.contact_for(s, "test", user, f"Fan {user}", platform)
        conv = store.conversation_for(s, "test", user, contact)
        conv.state = {"language": language} if language else {}


def test_a_button_poll_is_posted_and_its_results_are_in_the_brands_default_language(store: Store) -> None:
    e = Engagement(store, _domain("es"))
    p = e.polls.create(question="¿Próximo color?", options=["Azul", "Verde"], channel="test", chats=[GROUP],
                       style="buttons", closes_at=utcnow() + timedelta(hours=1))
    e.polls.open_due()
    post = _sent(store, GROUP)[-1]
    assert post.text == "📊 ¿Próximo color? (elige una opción)"
    assert [b["title"] for b in post.payload["buttons"]] == ["Azul", "Verde"]
    for user, option in (("u1", 0), ("u2", 0), ("u3", 1)):
        assert e.polls.vote(p.id, "test", user, [option]).status == "recorded"
    assert e.polls.close_now(p.id) is not None
    results = _sent(store, GROUP)[-1].text
    assert results.splitlines() == [f"📊 Encuesta #{p.id} (cerrada): ¿Próximo color?", "  Azul: 2 (67%)",
                                    "  Verde: 1 (33%)", "  3 votantes"]


@pytest.mark.parametrize(("voters", "line"), [(1, "مصوّت واحد"), (2, "مصوّتان"), (3, "3 مصوّتين"),
                                              (11, "11 مصوّتًا")])
def test_arabic_results_count_voters_in_the_right_plural_form(store: Store, voters: int, line: str) -> None:
    e = Engagement(store, _domain("ar"))
    p = e.polls.create(question="؟", options=["أ", "ب"], channel="test", chats=[GROUP], style="buttons")
    e.polls.open_due()
    for i in range(voters):
        e.polls.vote(p.id, "test", f"u{i}", [0])
    e.polls.close_now(p.id)
    assert _sent(store, GROUP)[-1].text.splitlines()[-1] == f"  {line}"


def test_without_a_domain_posts_stay_english(store: Store) -> None:
    polls = Engagement(store).polls
    p = polls.create(question="Next colour?", options=["Red", "Blue"], channel="test", chats=[GROUP],
                     style="buttons", multiple=True)
    polls.open_due()
    assert _sent(store, GROUP)[-1].text == "📊 Next colour? (choose one or more)"
    polls.vote(p.id, "test", "u1", [1])
    polls.close_now(p.id)
    assert _sent(store, GROUP)[-1].text.splitlines()[-1] == "  1 voter"


async def test_giveaway_posts_in_the_brands_language_and_winner_notices_in_each_winners(store: Store) -> None:
    e = Engagement(store, _domain("de"))
    g = e.giveaways
    row = g.create(prize="Nova X", winners=3, channel="test", announce=[GROUP],
                   closes_at=utcnow() + timedelta(hours=1))
    g.open_due()
    post = _sent(store, GROUP)[-1]
    assert post.text.startswith("🎁 Gewinnspiel: Nova X! 3 Gewinner. Zum Mitmachen tippe auf den Button unten")
    assert row.commitment in post.text and "Giveaway" not in post.text
    assert [b["title"] for b in post.payload["buttons"]] == ["Mitmachen 🎁"]
    _fan_speaks(store, "ana", "ar")  # wrote to the bot in Arabic
    _fan_speaks(store, "ben", None, platform="pl-PL")  # never wrote; Telegram says Polish
    _fan_speaks(store, "cal", None)  # nothing known: the brand's default
    for user in ("ana", "ben", "cal"):
        assert g.enter(row.id, "test", user, display_name=f"Fan {user}").status == "entered"
    g.close_due(utcnow() + timedelta(hours=2))
    assert await g.draw(row.id, None)
    assert _sent(store, "ana")[-1].text.startswith("🎉 تهانينا! لقد فزت في سحب Nova X.")
    assert _sent(store, "ben")[-1].text.startswith("🎉 Gratulacje! Wygrałeś/wygrałaś konkurs o Nova X.")
    assert _sent(store, "cal")[-1].text.startswith("🎉 Glückwunsch! Du hast das Gewinnspiel um Nova X gewonnen.")
    assert f"السحب رقم {row.id}، البذرة {g.get(row.id).seed}" in _sent(store, "ana")[-1].text  # type: ignore[union-attr]
    results = _sent(store, GROUP)[-1].text
    assert results.startswith("🎁 Nova X: Die Ziehung ist erfolgt! Gewinner: ")
    assert all(f"Fan {u}" in results for u in ("ana", "ben", "cal"))


async def test_a_giveaway_with_nobody_eligible_says_so_in_the_group_language(store: Store) -> None:
    g = Engagement(store, _domain("fr")).giveaways
    row = g.create(prize="Halo", winners=1, channel="test", announce=[GROUP], keyword="#halo",
                   closes_at=utcnow() + timedelta(hours=1))
    g.open_due()
    assert "Pour participer, envoyez « #halo »." in _sent(store, GROUP)[-1].text
    g.close_due(utcnow() + timedelta(hours=2))
    await g.draw(row.id, None)
    assert "Gagnant(s) : personne (aucune participation valable)." in _sent(store, GROUP)[-1].text


def test_a_giveaway_needs_a_prize_name(store: Store) -> None:
    with pytest.raises(ValueError, match="needs a prize"):
        Giveaways(store).create(prize="   ", winners=1, closes_at=utcnow() + timedelta(hours=1))


def _keyword(text: str) -> ParseResult:
    return ParseResult(text, "giveaway_enter", 0.3, True, [("giveaway_enter", 0.3)], [], "de", "minilm", "test")


@pytest.mark.parametrize(("language", "expected"), [
    ("de", "Du bist beim Gewinnspiel um Nova X schon dabei"),
    (None, "You're already in the Nova X giveaway"),
])
def test_an_entry_that_lost_a_race_with_the_same_fans_other_entry_names_the_prize(
        store_url: str, store: Store, language: str | None, expected: str) -> None:
    """The fan's two entries arrive together: the other one is stored between this entry's checks and
    its insert, the unique constraint refuses this one, and the reply still names the prize."""
    e = Engagement(store, _domain("en") if language else None)
    row = e.giveaways.create(prize="Nova X", winners=1, channel="test", keyword="#novax",
                             closes_at=utcnow() + timedelta(hours=1))
    e.giveaways.open_due()
    other = Store(store_url)  # the other worker, on its own connection
    raced: list[bool] = []

    def competitor(session: Session, *_: Any) -> None:
        if raced or not any(isinstance(o, GiveawayEntry) for o in session.new):
            return
        raced.append(True)
        with other.session() as s:
            s.add(GiveawayEntry(giveaway_id=row.id, entrant="test:u1", created_at=utcnow()))

    event.listen(Session, "before_flush", competitor)
    try:
        d = e.decide(_keyword("#NovaX"), {}, Turn(1, "#NovaX", language=language),
                     {"channel": "test", "chat_id": "u1", "user_id": "u1"})
    finally:
        event.remove(Session, "before_flush", competitor)
        other.dispose()
    assert raced and d is not None and d.action == "giveaway:already"
    assert d.replies[0].text.startswith(expected)
    assert "None" not in d.replies[0].text and "  " not in d.replies[0].text
    assert e.giveaways.entry_count(row.id) == 1
