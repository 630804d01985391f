"""Plural forms in the fan's language: the CLDR categories (dialogs/plural.py), counted phrases in
phrases.yml (`ar: {two: ..., few: ..., other: ...}`), the wait a waiting fan is told through the real
waiting rules, domain and shipped translations, and load errors that name file, line and key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dialogs.domain import Domain
from dialogs.phrases import COUNTED, PHRASES, english
from dialogs.plural import category
from dialogs.translation_files import load_translations
from dialogs.waiting import WaitingRules, wait_reply
from nlu.yamlfile import DataError
from tests.conftest import REPO

NOON = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("language", "numbers", "expected"), [
    ("ar", (0, 1, 2, 3, 10, 11, 99, 100, 102, 103, 111, "1.5"),
     ("zero", "one", "two", "few", "few", "many", "many", "other", "other", "few", "many", "other")),
    ("pl", (1, 2, 4, 5, 12, 14, 21, 22, 25, 112, "1.5"),
     ("one", "few", "few", "many", "many", "many", "many", "few", "many", "many", "other")),
    ("ru", (1, 2, 5, 11, 21, 22, 25, 111, "2.5"),
     ("one", "few", "many", "many", "one", "few", "many", "many", "other")),
    ("en", (0, 1, 2, "1.5"), ("other", "one", "other", "other")),
    ("fr", (0, 1, "1.5", 2), ("one", "one", "one", "other")),
    ("hi", (0, 1, "1.5", 2), ("one", "one", "other", "other")),
    ("tr", (1, 5), ("one", "other")),
])
def test_cldr_plural_categories(language: str, numbers: tuple[int | str, ...], expected: tuple[str, ...]) -> None:
    assert tuple(category(language, n) for n in numbers) == expected


@pytest.fixture(scope="module")
def domain() -> Domain:
    d = Domain.load(REPO / "dialogs" / "domain.yml")
    d.use_translations(load_translations(REPO / "dialogs" / "translations"))
    return d


def _estimate(domain: Domain, language: str, position: int, per_ticket: float = 6) -> str:
    _, values = wait_reply(WaitingRules(minutes_per_ticket=per_ticket), position, NOON,
                           phrase=lambda k, **v: domain.phrase(k, language, **v))
    return str(values["estimate"])


@pytest.mark.parametrize(("position", "per_ticket", "expected"), [
    (1, 6, "حوالي 6 دقائق"),  # 3-10: plural
    (1, 10, "حوالي 10 دقائق"),
    (2, 6, "حوالي 12 دقيقة"),  # 11-99: singular
    (5, 6, "حوالي 30 دقيقة"),
    (20, 6, "حوالي ساعتين"),  # 2: dual, the number is in the word
    (30, 6, "حوالي 3 ساعات"),
    (15, 6, "حوالي 1.5 ساعة"),
    (120, 6, "حوالي 12 ساعة"),
])
def test_the_arabic_wait_takes_the_numbers_form(domain: Domain, position: int, per_ticket: float,
                                               expected: str) -> None:
    assert _estimate(domain, "ar", position, per_ticket) == expected


def test_polish_and_russian_waits_keep_their_forms(domain: Domain) -> None:
    # "około"/"около" take the genitive: "około 3 minut", "около 5 минут"; a number ending in 1 is singular
    assert _estimate(domain, "pl", 1, 3) == "około 3 minut"
    assert _estimate(domain, "pl", 5, 6) == "około 30 minut"
    assert domain.phrase("wait.minutes", "pl", minutes=1) == "około minuty"
    assert _estimate(domain, "ru", 1, 4) == "около 4 минут"
    assert domain.phrase("wait.minutes", "ru", minutes=21) == "около 21 минуты"
    assert domain.phrase("wait.minutes", "ru", minutes=25) == "около 25 минут"


def test_the_whole_queue_reply_in_arabic(domain: Domain) -> None:
    name, values = wait_reply(WaitingRules(minutes_per_ticket=6), 3, NOON,
                              phrase=lambda k, **v: domain.phrase(k, "ar", **v))
    out = domain.render(name, values, language="ar")
    assert out.text == "ترتيبك في قائمة الانتظار: رقم 3؛ عادةً ما يرد أحد الموظفين خلال حوالي 20 دقيقة."


def test_a_language_without_forms_and_english(domain: Domain) -> None:
    assert domain.phrase("wait.minutes", "es", minutes=1) == "unos 1 minutos"  # es gives one text for all
    assert english("poll.voters", voters=1) == "1 voter" and english("poll.voters", voters=0) == "0 voters"
    assert domain.phrase("giveaway.winners", "xx", winners=1) == "1 winner"  # unknown language: English forms


def test_every_counted_phrase_counts_a_placeholder_of_its_english_text() -> None:
    for key, count in COUNTED.items():
        assert "{" + count + "}" in PHRASES[key], key


def _load(tmp_path: Path, text: str) -> DataError:
    (tmp_path / "phrases.yml").write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as exc:
        load_translations(tmp_path)
    return exc.value


def test_plural_form_errors_name_file_line_and_key(tmp_path: Path) -> None:
    err = _load(tmp_path, "wait.minutes:\n  ar:\n    few: \"{minutes} دقائق\"\n")
    assert err.file is not None and err.file.endswith("phrases.yml")
    assert (err.line, err.key) == (2, "wait.minutes.ar") and "'other'" in err.message
    err = _load(tmp_path, "wait.minutes:\n  ar:\n    other: \"{minutes} دقيقة\"\n    dual: \"دقيقتين\"\n")
    assert (err.line, err.key) == (4, "wait.minutes.ar.dual") and "unknown plural form" in err.message
    err = _load(tmp_path, "wait.minutes:\n  ar:\n    other: \"{minutes} دقيقة\"\n    few: \"{hours} دقائق\"\n")
    assert (err.line, err.key) == (4, "wait.minutes") and "{minutes}" in err.message
    err = _load(tmp_path, "wait.an_hour:\n  ar: {one: \"ساعة\", other: \"ساعة\"}\n")
    assert (err.line, err.key) == (2, "wait.an_hour.ar") and "non-empty text" in err.message


def test_a_form_may_leave_the_number_out_but_other_may_not(tmp_path: Path) -> None:
    (tmp_path / "phrases.yml").write_text("wait.minutes:\n  ar: {two: \"دقيقتين\", other: \"{minutes} دقيقة\"}\n",
                                          encoding="utf-8")
    t = load_translations(tmp_path)
    assert t.phrases["wait.minutes"] == {"ar": "{minutes} دقيقة", "ar:two": "دقيقتين"}
    err = _load(tmp_path, "wait.minutes:\n  ar: {two: \"دقيقتين\", other: \"دقيقة\"}\n")
    assert err.line == 2 and err.key == "wait.minutes"
