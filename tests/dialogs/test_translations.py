"""Answering in the fan's language: translation files, the fallback order, flow names and phrases
(dialogs/translation_files.py, dialogs/domain.py, dialogs/policy.py), on real files in tmp_path."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.orders import CsvOrderTable
from dialogs.actions import ActionRegistry
from dialogs.builtin_actions import builtin_actions
from dialogs.domain import Domain
from dialogs.flows import load_flows
from dialogs.policy import DialogPolicy, Turn
from dialogs.translation_files import load_translations
from dialogs.waiting import SupportHours, WaitingRules, wait_reply
from nlu.model import ParseResult
from nlu.yamlfile import DataError

REPO = Path(__file__).resolve().parents[2]

DOMAIN = """\
version: "3.1"
responses:
  utter_greet:
    - text: "Hi {name}!"
    - text: "Hola {name} (inline)"
      language: es
  utter_status:
    - text: "Order {order_number} is {order_status}."
  utter_only_en:
    - text: "English only."
  utter_choice:
    - text: "Pick one"
      buttons:
        - {title: "Yes", payload: "/affirm"}
        - {title: "No", payload: "/deny"}
"""

ES = """\
language: es
responses:
  utter_greet:
    - text: "¡Hola {name}! Soy el asistente."
  utter_status:
    - text: "El pedido {order_number} está {order_status}."
flow_names:
  refund: "reembolso"
phrases: {}
"""

DE = """\
language: de
responses:
  utter_only_en:
    - text: "Nur auf Deutsch."
"""


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def domain(tmp_path: Path) -> Domain:
    (tmp_path / "domain.yml").write_text(DOMAIN, encoding="utf-8")
    d = Domain.load(tmp_path / "domain.yml")
    d.use_translations(load_translations(write(tmp_path / "translations", {"es.yml": ES, "de.yml": DE})))
    return d


# -- the fallback order -------------------------------------------------------------------------------------


def test_the_fans_language_first_and_a_translation_file_wins_over_inline_variations(domain: Domain) -> None:
    out = domain.render("utter_greet", {"name": "Ana"}, language="es")
    assert out.text == "¡Hola Ana! Soy el asistente." and out.language == "es"
    assert domain.language_note("utter_greet", "es") is None


def test_missing_language_falls_back_to_english_and_says_why(domain: Domain) -> None:
    out = domain.render("utter_only_en", {}, language="pl")
    assert out.text == "English only." and out.language == "en"
    assert domain.language_note("utter_only_en", "pl") == "utter_only_en: no pl translation, answered in en"


def test_the_brand_default_language_comes_before_english(domain: Domain) -> None:
    domain.default_language = "de"
    assert domain.fallback_chain("pl") == ["pl", "de", "en"]
    assert domain.render("utter_only_en", {}, language="pl").text == "Nur auf Deutsch."
    # the default has no translation of this one: English
    assert domain.render("utter_status", {"order_number": "VT-1", "order_status": "x"}, language="pl").language == "en"
    assert domain.language_note("utter_only_en", "pl") == "utter_only_en: no pl translation, answered in de"


def test_any_variation_when_none_is_in_the_chain(tmp_path: Path) -> None:
    (tmp_path / "d.yml").write_text('responses:\n  utter_x:\n    - text: "Nur deutsch"\n      language: de\n',
                                    encoding="utf-8")
    d = Domain.load(tmp_path / "d.yml")
    out = d.render("utter_x", {}, language="fr")
    assert out.text == "Nur deutsch" and out.language == "de"


def test_slot_values_with_a_phrase_are_filled_in_the_reply_language(domain: Domain) -> None:
    domain.phrases = {"order_status.shipped": {"es": "enviado"}}
    es = domain.render("utter_status", {"order_number": "VT-1", "order_status": "shipped"}, language="es")
    assert es.text == "El pedido VT-1 está enviado."
    # an English reply keeps the English word even for a Spanish fan's value table
    en = domain.render("utter_status", {"order_number": "VT-1", "order_status": "shipped"}, language="it")
    assert en.text == "Order VT-1 is shipped."
    # a value without a phrase is filled as it is
    assert "is lost." in domain.render("utter_status", {"order_number": "1", "order_status": "lost"}).text


def test_phrases_follow_the_fallback_order(domain: Domain) -> None:
    domain.phrases = {"wait.minutes": {"de": "etwa {minutes} Minuten"}}
    assert domain.phrase("wait.minutes", "de", minutes=5) == "etwa 5 Minuten"
    assert domain.phrase("wait.minutes", "pl", minutes=5) == "about 5 minutes"
    domain.default_language = "de"
    assert domain.phrase("wait.minutes", "pl", minutes=5) == "etwa 5 Minuten"


# -- loading errors name file and line -----------------------------------------------------------------------


def _error(tmp_path: Path, files: dict[str, str]) -> DataError:
    with pytest.raises(DataError) as exc:
        load_translations(write(tmp_path / "tr", files))
    return exc.value


def test_a_file_whose_language_is_not_its_name(tmp_path: Path) -> None:
    err = _error(tmp_path, {"es.yml": "# Spanish\nlanguage: de\nresponses: {}\n"})
    assert err.file is not None and err.file.endswith("es.yml") and err.line == 2 and err.key == "language"
    assert "name it de.yml" in err.message


def test_an_unknown_top_level_key(tmp_path: Path) -> None:
    err = _error(tmp_path, {"es.yml": "language: es\nresponses: {}\nflows: {}\n"})
    assert (err.line, err.key) == (3, "flows")


def test_a_variation_without_text(tmp_path: Path) -> None:
    err = _error(tmp_path, {"es.yml": "language: es\nresponses:\n  utter_greet:\n    - buttons: []\n"})
    assert err.line == 4 and err.key == "utter_greet[0]"


def test_an_unknown_phrase_and_wrong_placeholders_in_phrases_yml(tmp_path: Path) -> None:
    err = _error(tmp_path, {"phrases.yml": "wait.minutes:\n  es: \"unos {minutes} minutos\"\nwait.nope:\n  es: x\n"})
    assert err.file is not None and err.file.endswith("phrases.yml") and (err.line, err.key) == (3, "wait.nope")
    err = _error(tmp_path, {"phrases.yml": "wait.minutes:\n  es: \"unos {minutos} minutos\"\n"})
    assert err.line == 2 and "{minutes}" in err.message


def test_a_phrase_in_a_language_file_wins_over_phrases_yml(tmp_path: Path) -> None:
    t = load_translations(write(tmp_path / "tr", {
        "phrases.yml": "wait.an_hour:\n  es: \"una hora\"\n  de: \"eine Stunde\"\n",
        "es.yml": "language: es\nphrases:\n  wait.an_hour: \"más o menos una hora\"\n"}))
    assert t.phrases["wait.an_hour"] == {"es": "más o menos una hora", "de": "eine Stunde"}


def test_the_shipped_translations_load() -> None:
    t = load_translations(REPO / "dialogs" / "translations")
    assert len(t.phrases) >= 20
    for key, by_lang in t.phrases.items():
        assert {"es", "de", "pl", "hi", "ar"} <= set(by_lang), key


# -- the dialog engine in the fan's language ----------------------------------------------------------------


def parse(text: str, intent: str, language: str, entities: dict[str, str] | None = None) -> ParseResult:
    ents = [{"entity": k, "value": v} for k, v in (entities or {}).items()]
    return ParseResult(text, intent, 0.95, False, [(intent, 0.95)], ents, language, "minilm", "test")


def demo_policy(tmp_path: Path) -> DialogPolicy:
    domain = Domain.load(REPO / "dialogs" / "domain.yml")
    domain.use_translations(load_translations(write(tmp_path / "tr", {"es.yml": """\
language: es
responses:
  utter_greet:
    - text: "¡Hola {name}!"
  utter_ask_refund_order_number:
    - text: "Puedo ayudarte con un reembolso. ¿Cuál es el número de pedido (VT-123456)?"
  utter_resume_flow:
    - text: "Volvamos a tu {flow}:"
  utter_order_status:
    - text: "El pedido {order_number} ({product}) está {order_status}. {eta_text}"
flow_names:
  refund: "reembolso"
""", "phrases.yml": "order_status.shipped: {es: enviado}\norder.eta: {es: \"Entrega prevista: {eta}.\"}\n"})))
    orders = CsvOrderTable(REPO / "dialogs" / "demo_orders.csv")
    registry = builtin_actions(ActionRegistry(), orders=orders, phrase=domain.phrase)
    flows = load_flows([REPO / "dialogs" / "flows.yml"], responses=set(domain.responses),
                       actions=registry.names() | {"action_record_csat"})
    return DialogPolicy(domain, None, orders, flows=flows, actions=registry)


async def _say(policy: DialogPolicy, state: dict[str, Any], text: str, intent: str, language: str,
               entities: dict[str, str] | None = None) -> tuple[Any, dict[str, Any]]:
    d = await policy.decide(parse(text, intent, language, entities), state, Turn(1, text, "Ana", language))
    return d, json.loads(json.dumps(d.state))


async def test_flow_names_are_translated_in_the_resume_question(tmp_path: Path) -> None:
    policy = demo_policy(tmp_path)
    d, state = await _say(policy, {}, "quiero un reembolso", "refund_request", "es")
    assert d.replies[0].text.startswith("Puedo ayudarte con un reembolso")
    d, state = await _say(policy, state, "hola", "greet", "es")
    assert [r.text for r in d.replies][0] == "¡Hola Ana!"
    assert d.replies[1].text.startswith("Volvamos a tu reembolso: Puedo ayudarte")
    assert "language_notes" not in d.debug or d.debug["language_notes"] == []


async def test_order_status_words_and_eta_in_the_fans_language_and_a_debug_note_when_not(tmp_path: Path) -> None:
    policy = demo_policy(tmp_path)
    d, _ = await _say(policy, {}, "¿dónde está mi pedido VT-482913?", "order_status", "es",
                      {"order_number": "VT-482913"})
    status = next(r for r in d.replies if r.response == "utter_order_status")
    assert status.text.startswith("El pedido VT-482913 (Voltora Buds Pro) está enviado.")
    assert "Entrega prevista:" in status.text and "Expected" not in status.text
    d, _ = await _say(policy, {}, "gdzie jest moje zamówienie VT-482913?", "order_status", "pl",
                      {"order_number": "VT-482913"})
    assert "utter_order_status: no pl translation, answered in en" in d.debug["language_notes"]
    assert next(r for r in d.replies if r.response == "utter_order_status").text.startswith("Order VT-482913")


def test_waiting_words_in_the_fans_language(domain: Domain) -> None:
    domain.use_translations(load_translations(REPO / "dialogs" / "translations"))
    rules = WaitingRules(hours=SupportHours.parse("Europe/Berlin", {"mon": "09:00-18:00"}))
    saturday = datetime(2026, 1, 3, 12, 0, tzinfo=UTC)
    name, values = wait_reply(rules, 1, saturday, phrase=lambda k, **v: domain.phrase(k, "de", **v))
    assert name == "utter_out_of_hours"
    assert values == {"opening": "am Montag um 09:00", "timezone": "Zeit in Berlin"}
    _, values = wait_reply(WaitingRules(minutes_per_ticket=6), 2, saturday,
                           phrase=lambda k, **v: domain.phrase(k, "es", **v))
    assert values["estimate"] == "unos 12 minutos" and values["place"] == "el número 2"
    # English stays the default for callers that pass no phrase
    assert wait_reply(WaitingRules(minutes_per_ticket=6), 2, saturday)[1]["estimate"] == "about 12 minutes"
