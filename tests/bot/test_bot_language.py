"""`bot_language` in conversation tests: every reply of a turn in the fan's language (bot/conversation_tests.py)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.conversation_tests import load_conversations, reply_language, run_conversations
from nlu.yamlfile import DataError
from tests.conftest import write_config

LANGUAGES = ["en", "es", "de", "fr", "pt", "it", "nl", "pl", "tr", "ru", "ar", "hi"]


@pytest.fixture
def multilingual_app(tmp_path: Path, model_dir: Path, nlu_model: Any) -> Iterator[Any]:
    """The demo App answering in the demo's twelve languages (`brand.languages`)."""
    from bot.app import App
    from bot.config import load_config

    cfg = load_config(write_config(tmp_path, f"sqlite:///{tmp_path / 'app.db'}", model_dir,
                                   brand={"languages": LANGUAGES}))
    app = App(cfg, model=nlu_model)
    yield app
    app.close()

CASES = """\
conversations:
  - name: a German fan writing German
    language: de
    bot_language: de
    steps:
      - user: "Hallo, guten Tag"
      - utter: utter_greet
  - name: an English fan expected in German
    bot_language: de
    steps:
      - user: "hello there"
      - utter: utter_greet
  - name: one turn checked by a step
    steps:
      - user: "hola, buenos días"
      - bot_language: es
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.yml"
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def test_loads_the_conversation_key_and_the_step(tmp_path: Path) -> None:
    cases = load_conversations([write(tmp_path, CASES)])
    assert [c.bot_language for c in cases] == ["de", "de", None]
    assert cases[2].steps[1].key == "bot_language" and cases[2].steps[1].value == "es"


@pytest.mark.parametrize("bad, line", [("  - name: x\n    bot_language: German\n    steps: [{user: hi}]\n", 3),
                                       ("  - name: x\n    steps:\n      - user: hi\n      - bot_language: 7\n", 5)])
def test_a_bad_language_code_names_file_and_line(tmp_path: Path, bad: str, line: int) -> None:
    with pytest.raises(DataError) as e:
        load_conversations([write(tmp_path, "conversations:\n" + bad)])
    assert e.value.line == line and "two-letter" in e.value.message


def test_replies_too_short_to_tell_are_not_checked() -> None:
    assert reply_language("VT-482913") is None
    assert reply_language("5") is None
    assert reply_language("#12 ✅") is None
    assert reply_language("¡Hola Alex! Soy el asistente de Voltora. ¿En qué puedo ayudarte?") == "es"
    assert reply_language("Hallo Alex! Ich bin der Voltora-Assistent. Wie kann ich helfen?") == "de"


async def test_every_reply_must_be_in_the_conversations_language(multilingual_app: Any, tmp_path: Path) -> None:
    results = await run_conversations(multilingual_app, load_conversations([write(tmp_path, CASES)]))
    german, english, step = results
    assert german.passed, german.failure
    assert step.passed, step.failure
    assert not english.passed and english.failure is not None
    assert english.failure.expected == "every reply in de" and "a reply in en" in english.failure.actual
    assert english.failure.step.key == "user"  # reported on the fan's turn whose reply was wrong


def test_the_expected_language_decides_close_calls_only() -> None:
    reply = "El pedido VT-482913 (Voltora Buds Pro) está enviado. Entrega prevista: 2026-12-01."
    assert reply_language(reply, "es") == "es"
    english = "Order VT-482913 (Voltora Buds Pro) is shipped. Expected delivery: 2026-12-01."
    assert reply_language(english, "es") == "en"
    assert reply_language("Thanks for your rating! We will share it with the team.", "de") == "en"
