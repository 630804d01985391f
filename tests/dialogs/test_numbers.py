"""A fraction in the fan's language (dialogs/numbers.py): "1,5" where the language writes a decimal
comma, through the real waiting rules, domain and shipped translations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dialogs.domain import Domain
from dialogs.numbers import decimal_text
from dialogs.translation_files import load_translations
from dialogs.waiting import WaitingRules, wait_estimate, wait_reply
from tests.conftest import REPO

NOON = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def domain() -> Domain:
    d = Domain.load(REPO / "dialogs" / "domain.yml")
    d.use_translations(load_translations(REPO / "dialogs" / "translations"))
    return d


def _estimate(domain: Domain, language: str, position: int) -> str:
    _, values = wait_reply(WaitingRules(minutes_per_ticket=6), position, NOON,
                           phrase=lambda k, **v: domain.phrase(k, language, **v))
    return str(values["estimate"])


# 15 tickets at 6 minutes: an hour and a half, in each of the demo's twelve languages
@pytest.mark.parametrize(("language", "expected"), [
    ("en", "about 1.5 hours"),
    ("es", "unas 1,5 horas"),
    ("de", "etwa 1,5 Stunden"),
    ("fr", "environ 1,5 heure"),  # CLDR: 1.5 takes the singular in French
    ("it", "circa 1,5 ore"),
    ("pt", "cerca de 1,5 horas"),
    ("nl", "ongeveer 1,5 uur"),
    ("pl", "około 1,5 godz."),
    ("tr", "yaklaşık 1,5 saat"),
    ("ru", "около 1,5 ч"),
    ("ar", "حوالي 1.5 ساعة"),  # Latin digits: CLDR's Latin-digit decimal symbol for Arabic is the dot
    ("hi", "लगभग 1.5 घंटे"),
])
def test_an_hour_and_a_half_in_each_language(domain: Domain, language: str, expected: str) -> None:
    assert _estimate(domain, language, 15) == expected


def test_whole_hours_have_no_fraction(domain: Domain) -> None:
    assert _estimate(domain, "de", 30) == "etwa 3 Stunden"
    assert _estimate(domain, "en", 30) == "about 3 hours"
    assert wait_estimate(15, 6) == "about 1.5 hours"  # English without a domain


def test_an_untranslated_phrase_keeps_the_english_dot() -> None:
    bare = Domain.load(REPO / "dialogs" / "domain.yml")  # no translations: German falls back to English text
    assert bare.phrase("wait.hours", "de", hours=1.5) == "about 1.5 hours"


def test_decimal_text() -> None:
    assert decimal_text("de", 2.5) == "2,5"
    assert decimal_text("pt-BR", 2.5) == "2,5"
    assert decimal_text("en", 2.5) == "2.5"
    assert decimal_text(None, 2.5) == "2.5"
    assert decimal_text("fr", 2.0) == "2"
