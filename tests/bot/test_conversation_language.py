"""The conversation's language through the real pipeline, model and store (SQLite and PostgreSQL):
what arrives in `Turn.language` (the reply language) and what is stored with the conversation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.store import Conversation
from tests.conftest import write_config
from tests.fakes.recording_channel import RecordingChannel, fan_message

LANGS = ["en", "es", "de", "fr", "pt", "it", "nl", "pl", "tr", "ru", "ar", "hi"]


@pytest.fixture
def app12(tmp_path: Path, store_url: str, model_dir: Path, nlu_model: Any) -> Iterator[Any]:
    """The demo app with the brand's twelve languages configured."""
    from bot.app import App
    from bot.config import load_config

    path = write_config(tmp_path, store_url, model_dir, brand={"default_language": "en", "languages": LANGS})
    a = App(load_config(path), model=nlu_model)
    a.pipeline.add_channel(RecordingChannel())
    yield a
    a.close()


async def _say(app: Any, text: str, user: str = "u-es") -> dict[str, Any]:
    res = await app.pipeline.handle(fan_message(text, user=user))
    assert res.debug is not None
    return res.debug


def _reply_language(debug: dict[str, Any]) -> str:
    """The turn's language ("es", or "es (utter_x: no es translation, ...)" when a reply fell back)."""
    return str(debug["language"]).split(" ", 1)[0]


def _stored(app: Any, user: str) -> dict[str, Any]:
    with app.store.session() as s:
        conv = s.query(Conversation).filter(Conversation.chat_id == f"chat-{user}").one()
        return dict(conv.state or {})


async def test_spanish_fan_stays_spanish_on_short_messages(app12: Any) -> None:
    for text in ("hola", "¿dónde está mi pedido?", "lo pedí hace una semana"):
        assert _reply_language(await _say(app12, text)) == "es"
    for text in ("ok", "VT-482913", "👍", "gracias", "Buds Pro"):
        debug = await _say(app12, text)
        assert _reply_language(debug) == "es", (text, debug)
        assert debug["language_reason"] == "kept"
    assert _stored(app12, "u-es")["language"] == "es"


async def test_one_short_english_message_does_not_flip_a_clear_one_does(app12: Any) -> None:
    await _say(app12, "hola, ¿dónde está mi pedido?", user="u-sw")
    debug = await _say(app12, "thanks", user="u-sw")
    assert (_reply_language(debug), debug["language_reason"]) == ("es", "candidate")
    debug = await _say(app12, "where is my order, it should have arrived yesterday", user="u-sw")
    assert (_reply_language(debug), debug["language_reason"]) == ("en", "switched")
    assert _stored(app12, "u-sw")["language"] == "en"


async def test_fan_changes_the_language_explicitly(app12: Any) -> None:
    ch = app12.pipeline.channels["test"]
    await _say(app12, "hola, necesito ayuda con mis Buds Pro", user="u-ask")
    debug = await _say(app12, "in English please", user="u-ask")
    assert (_reply_language(debug), debug["action"]) == ("en", "language:asked")
    assert ch.texts("chat-u-ask")[-1] == "Okay, I'll write in English from now on."
    assert _reply_language(await _say(app12, "gracias", user="u-ask")) == "en"  # one word: no flip back
    debug = await _say(app12, "/language de", user="u-ask")
    assert (_reply_language(debug), debug["action"]) == ("de", "language:command")
    assert ch.texts("chat-u-ask")[-1] == "Alles klar, ich schreibe ab jetzt auf Deutsch."
    assert _reply_language(await _say(app12, "ok", user="u-ask")) == "de"
    assert _stored(app12, "u-ask")["language"] == "de"


async def test_swedish_hej_is_answered_in_the_default_not_german(app12: Any) -> None:
    debug = await _say(app12, "Hej, var är min beställning?", user="u-sv")
    assert (_reply_language(debug), debug["detected_language"]) == ("en", "und")
    assert "language" not in _stored(app12, "u-sv")
