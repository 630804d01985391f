"""A one-word message several configured languages share ("hallo": German and Dutch; "super": German
and French): a tie between exactly those, broken on the first message by the fan's platform language
or the brand's default, and for a greeting by the brand's order, never answered in a language that
does not say it; later it keeps the conversation's language, like "ok" and "ach" do.

Real lingua models and the real lexicon; no model of ours is trained here."""

from __future__ import annotations

import pytest

from nlu.conversation_language import CANDIDATE_KEY, STATE_KEY, choose_language
from nlu.language import DEFAULT_LANGUAGES, detect_language, is_greeting, tied_languages

LANGS = list(DEFAULT_LANGUAGES)  # en first, de before nl


def _brand(default: str) -> list[str]:
    """The brand's languages as the pipeline passes them: the default first, then the others."""
    return [default, *[c for c in LANGS if c != default]]


def test_a_shared_word_ties_between_the_languages_that_say_it() -> None:
    assert detect_language("hallo", LANGS)[0] == "und"
    assert tied_languages("Hallo!", LANGS) == ("de", "nl")
    assert tied_languages("hallo", ["nl", "en", "de"]) == ("nl", "de")  # in the given order
    assert tied_languages("super", LANGS) == ("de", "fr")
    assert tied_languages("ok", LANGS) == ()  # every language ties: no tie among some
    assert tied_languages("danke", LANGS) == ()  # one language leads
    assert tied_languages("hallo zusammen", LANGS) == ()  # two words: German


@pytest.mark.parametrize(("default", "platform", "expected"), [
    ("en", None, "de"),  # not English: the first of German and Dutch in the brand's order
    ("de", None, "de"),
    ("nl", None, "nl"),  # the brand's default among the tied
    ("en", "nl-BE", "nl"),  # the fan's platform language among the tied wins over the default
    ("de", "nl", "nl"),
    ("en", "es", "de"),  # a platform language not among the tied does not decide
])
def test_hallo_alone_opens_a_conversation_in_one_of_its_languages(default: str, platform: str | None,
                                                                  expected: str) -> None:
    c = choose_language("Hallo!", {}, languages=_brand(default), default=default, contact_language=platform)
    assert (c.language, c.reason, c.detected) == (expected, "first", "und")
    assert c.state == {STATE_KEY: expected, CANDIDATE_KEY: None}  # sticky from here on


def test_a_shared_word_that_is_no_greeting_takes_the_default_only_when_it_is_among_them() -> None:
    c = choose_language("super", {}, languages=_brand("en"), default="en")
    assert (c.language, c.reason, c.state) == ("en", "default", {})  # English fans say "super" too
    c = choose_language("super", {}, languages=_brand("fr"), default="fr")
    assert (c.language, c.state) == ("fr", {STATE_KEY: "fr", CANDIDATE_KEY: None})


@pytest.mark.parametrize("text", ["hallo", "Hallo!", "ok", "OK", "ach", "ja", "super"])
@pytest.mark.parametrize("conversation", ["es", "pl", "fr", "ru"])
def test_later_a_one_word_message_keeps_the_conversations_language(text: str, conversation: str) -> None:
    c = choose_language(text, {STATE_KEY: conversation}, languages=LANGS, default="en")
    assert c.language == conversation and c.reason == "kept"
    assert STATE_KEY not in c.state and not c.state.get(CANDIDATE_KEY)  # not even a candidate to switch


@pytest.mark.parametrize("text", ["ok", "ach", "OK!", "👍"])
def test_ok_and_ach_first_set_nothing(text: str) -> None:
    c = choose_language(text, {}, languages=_brand("en"), default="en")
    assert (c.language, c.reason, c.state) == ("en", "default", {})
    assert choose_language(text, {}, languages=_brand("en"), default="en", contact_language="de").language == "de"


def test_greetings_are_one_word() -> None:
    assert is_greeting("Hallo!") and is_greeting("ciao :)") and is_greeting("cześć")
    assert not is_greeting("hallo zusammen") and not is_greeting("ok") and not is_greeting("ach")
