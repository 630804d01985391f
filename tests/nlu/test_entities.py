"""Entities fans write: fuzzy product names, dates, amounts, the configured order number."""

from __future__ import annotations

import pickle
from datetime import date
from decimal import Decimal

import pytest

from bot.app import entity_patterns
from bot.config import FancareConfig
from nlu.amounts import find_amounts, parse_number
from nlu.dates import find_dates
from nlu.entities import EntityExtractor
from nlu.readers import load_training_data

TODAY = date(2026, 6, 17)  # a Wednesday


@pytest.fixture(scope="module")
def extractor() -> EntityExtractor:
    ex = EntityExtractor.from_training_data(load_training_data(["training_data"]))
    for entity, (pattern, canonical) in entity_patterns(FancareConfig()).items():
        ex.use_pattern(entity, pattern, canonical)
    return ex


def found(ex: EntityExtractor, text: str, entity: str, language: str | None = None) -> list[tuple[str, str]]:
    return [(e.text, e.value) for e in ex.extract(text, language, TODAY) if e.entity == entity]


@pytest.mark.parametrize(("text", "span", "value"), [
    ("my budz pro broke", "budz pro", "Voltora Buds Pro"),
    ("bud pro left earbud is dead", "bud pro", "Voltora Buds Pro"),
    ("pulse3 wont sync", "pulse3", "Voltora Pulse 3"),
    ("my puls 3 is off", "puls 3", "Voltora Pulse 3"),
    ("Pulse-3 strap snapped", "Pulse-3", "Voltora Pulse 3"),
    ("nova x screen", "nova x", "Voltora Nova X"),
    ("my nova-x is hot", "nova-x", "Voltora Nova X"),
    ("novax battery", "novax", "Voltora Nova X"),
    ("the arc speaker crackles", "arc speaker", "Voltora Arc"),  # no article in the span
    ("Voltora Budz Pro case", "Voltora Budz Pro", "Voltora Buds Pro"),  # the brand word joins the span
    ("my Pulse won't charge", "Pulse", "Voltora Pulse 3"),  # capitalised: the product
    ("the dock doesn't fit", "dock", "Voltora Dock"),  # after an article: the product
])
def test_product_typos_and_nicknames_normalise_to_the_canonical_name(extractor, text, span, value):
    assert found(extractor, text, "product") == [(span, value)]


@pytest.mark.parametrize("text", [
    "my pulse is fast after running",  # decided: a bare lower-case ordinary word is not the product
    "a beam of light",
    "who won the match",  # one letter from the nickname "the watch": nicknames are exact only
    "I bought a speaker",  # two edits from "arc speaker"
    "the Voltora team rocks",  # one letter from "Voltora Beam": the brand word is never matched fuzzily
    "pulses and impulse 3",  # digits must agree; whole words only
    "mein Puls ist hoch",
    "rock and duck",
])
def test_ordinary_words_are_not_products(extractor, text):
    assert found(extractor, text, "product") == []


def test_fuzzy_names_carry_a_score_below_exact_ones(extractor):
    (fuzzy,) = [e for e in extractor.extract("my budz pro", None, TODAY) if e.entity == "product"]
    (exact,) = [e for e in extractor.extract("my buds pro", None, TODAY) if e.entity == "product"]
    assert fuzzy.extractor == "fuzzy" and 0.8 < fuzzy.score < 1.0
    assert exact.score == 1.0 and exact.as_dict()["score"] == 1.0


@pytest.mark.parametrize(("text", "span", "value", "language"), [
    ("I ordered last Tuesday", "last Tuesday", "2026-06-16", None),
    ("ordered 2 weeks ago", "2 weeks ago", "2026-06-03", None),
    ("it came yesterday", "yesterday", "2026-06-16", None),
    ("ordered on the 3rd", "3rd", "2026-06-03", None),
    ("on the 20th", "20th", "2026-05-20", None),  # not yet this month: last month's
    ("lo pedí hace 2 semanas", "hace 2 semanas", "2026-06-03", "es"),
    ("hace una semana", "hace una semana", "2026-06-10", "es"),
    ("el martes pasado", "martes pasado", "2026-06-16", "es"),
    ("bestellt letzte Woche", "letzte Woche", "2026-06-08", "de"),  # a period: its first day
    ("vor 3 Tagen", "vor 3 Tagen", "2026-06-14", "de"),
    ("commandé hier", "hier", "2026-06-16", "fr"),
    ("il y a 3 jours", "il y a 3 jours", "2026-06-14", "fr"),
    ("comprei há 2 semanas", "há 2 semanas", "2026-06-03", "pt"),
    ("ordinato 2 settimane fa", "2 settimane fa", "2026-06-03", "it"),
    ("l'altro ieri", "l'altro ieri", "2026-06-15", "it"),
    ("el 3 de marzo", "3 de marzo", "2026-03-03", "es"),
    ("since December 20", "December 20", "2025-12-20", None),  # no year, not yet this year: last year's
    ("on 14/03/2026", "14/03/2026", "2026-03-14", None),
    ("paid on 2026-05-30", "2026-05-30", "2026-05-30", None),
    ("arrives by friday?", "friday", "2026-06-19", None),  # a future cue
    ("next monday", "next monday", "2026-06-22", None),
    ("¿abren mañana?", "mañana", "2026-06-18", "es"),
])
def test_dates_resolve_relative_to_the_message_date(text, span, value, language):
    assert [(d.text, d.value) for d in _longest(find_dates(text, TODAY, language))] == [(span, value)]


@pytest.mark.parametrize(("text", "language"), [
    ("ich bin hier", "de"),  # German "here"
    ("guten Morgen!", "de"),
    ("esta mañana", "es"),
    ("24/7 support", None),
    ("version 3.1 is out", None),
    ("1/2 cup", None),
    ("hay mar en madrid", "es"),
    ("no date here", None),
])
def test_no_dates_in_ordinary_text(text, language):
    assert find_dates(text, TODAY, language) == []


def _longest(mentions):
    """What the extractor keeps: the longest of overlapping candidates."""
    kept = []
    for m in sorted(mentions, key=lambda m: -(m.end - m.start)):
        if all(m.end <= k.start or m.start >= k.end for k in kept):
            kept.append(m)
    return sorted(kept, key=lambda m: m.start)


@pytest.mark.parametrize(("text", "span", "value"), [
    ("paid €49.99 for it", "€49.99", "49.99 EUR"),
    ("it was 49,99 € in the shop", "49,99 €", "49.99 EUR"),
    ("refund $20 please", "$20", "20.00 USD"),
    ("20 dollars shipping", "20 dollars", "20.00 USD"),
    ("£15 delivery", "£15", "15.00 GBP"),
    ("1.299,00 EUR bezahlt", "1.299,00 EUR", "1299.00 EUR"),
    ("I paid 1,299.00 USD", "1,299.00 USD", "1299.00 USD"),
    ("paguei R$ 899", "R$ 899", "899.00 BRL"),
    ("299 zł", "299 zł", "299.00 PLN"),
])
def test_amounts_have_value_and_currency(extractor, text, span, value):
    ents = [e for e in extractor.extract(text, None, TODAY) if e.entity == "amount"]
    assert [(e.text, e.value) for e in ents] == [(span, value)]
    assert ents[0].as_dict()["currency"] == value.split()[1]
    assert ents[0].as_dict()["amount"] == float(value.split()[0])


@pytest.mark.parametrize("text", ["order VT-482913", "I have 2 buds", "version 3.1", "call 020 7946 0958"])
def test_a_number_without_currency_is_not_an_amount(text):
    assert find_amounts(text) == []


@pytest.mark.parametrize(("raw", "value"), [("1.299,00", "1299.00"), ("1,299", "1299"), ("49,99", "49.99"),
                                            ("1 299,50", "1299.50"), ("20", "20")])
def test_decimal_separator_is_read_from_the_number(raw, value):
    assert parse_number(raw) == Decimal(value)


def test_order_number_entity_follows_the_configured_pattern():
    td = load_training_data(["training_data"])
    default = EntityExtractor.from_training_data(td)
    cfg = FancareConfig.model_validate({"orders": {"number_pattern": r"\bORD[- ]?(\d{8})\b",
                                                   "number_format": "ORD-{digits}",
                                                   "number_example": "ORD-12345678"}})
    ex = EntityExtractor.from_training_data(td)
    for entity, (pattern, canonical) in entity_patterns(cfg).items():
        ex.use_pattern(entity, pattern, canonical)
    assert found(ex, "where is ord 12345678?", "order_number") == [("ord 12345678", "ORD-12345678")]
    assert found(ex, "where is VT-482913?", "order_number") == []
    assert found(default, "where is VT-482913?", "order_number") == [("VT-482913", "VT-482913")]
    # the configured format survives the model artifact (pickle) and old artifacts still load
    again = pickle.loads(pickle.dumps(ex))
    assert found(again, "ORD12345678", "order_number") == [("ORD12345678", "ORD-12345678")]


def test_default_config_canonicalises_order_numbers(extractor):
    assert found(extractor, "order vt 482913 pls", "order_number") == [("vt 482913", "VT-482913")]
    assert found(extractor, "VT482913", "order_number") == [("VT482913", "VT-482913")]


def test_bad_configured_pattern_names_the_entity():
    ex = EntityExtractor({}, {}, {})
    with pytest.raises(ValueError, match="order_number"):
        ex.use_pattern("order_number", r"VT(\d", "VT-{digits}")
