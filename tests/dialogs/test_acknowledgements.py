""""ok", "ach", "hmm" however the classifier read them open no greeting and are no fallback
(dialogs/acknowledgements.py): the shipped demo flows and domain with hand-made NLU results, as in test_engine.py."""

from __future__ import annotations

import pytest

from dialogs.acknowledgements import affirms, is_acknowledgement
from tests.dialogs.test_engine import Chat, demo_policy, names


@pytest.mark.parametrize("text", ["ok", "OK!", "ach", "ach so", "O.K.", "hmm", "окей"])
async def test_an_acknowledgement_read_as_a_greeting_asks_what_else(text: str) -> None:
    d = await Chat(demo_policy()).say(text, "greet", confidence=0.88)
    assert names(d) == ["utter_anything_else"]


@pytest.mark.parametrize("text", ["hi", "hallo", "hello there", "ok hi", "Guten Tag"])
async def test_a_real_greeting_is_greeted(text: str) -> None:
    d = await Chat(demo_policy()).say(text, "greet", confidence=0.88)
    assert names(d) == ["utter_greet"]


async def test_during_a_task_an_acknowledgement_does_not_greet_and_the_task_goes_on() -> None:
    chat = Chat(demo_policy())
    await chat.say("where is my order", "order_status")
    d = await chat.say("ach", "greet", confidence=0.88)
    assert "utter_greet" not in names(d) and [f["flow"] for f in chat.stack] == ["order_status"]
    d = await chat.say("hi again", "greet", confidence=0.88)  # a real greeting is answered, then back to the task
    assert names(d)[0] == "utter_greet" and [f["flow"] for f in chat.stack] == ["order_status"]


@pytest.mark.parametrize("text", ["Cześć!", "merhaba", "hola :)", "Moin"])
async def test_a_lone_greeting_word_read_unsure_is_still_greeted(text: str) -> None:
    """A greeting word alone is a greeting in any of the brand's languages, even when the classifier
    had too few examples of it to be sure ("Cześć!" greet 0.42: a fallback before)."""
    d = await Chat(demo_policy()).say(text, "greet", confidence=0.42, fallback=True)
    assert names(d) == ["utter_greet"]
    d = await Chat(demo_policy()).say(text, "out_of_scope", confidence=0.6)
    assert names(d) == ["utter_greet"]


async def test_an_unsure_message_that_only_starts_with_a_greeting_still_falls_back() -> None:
    d = await Chat(demo_policy()).say("hola blorp fizzle", "greet", confidence=0.42, fallback=True)
    assert "utter_greet" not in names(d)


@pytest.mark.parametrize(("text", "intent", "confidence", "fallback"), [
    ("Ok", "out_of_scope", 0.505, True),  # the demo model's readings (dialogs/acknowledgements.py)
    ("vale vale", "out_of_scope", 0.485, True),
    ("d'accord", "goodbye", 0.83, False),
    ("vale", "thanks", 0.65, False),
    ("tamam", "greet", 0.94, False),
    ("Alles klar!", "goodbye", 0.7, False),
    ("ठीक है", "out_of_scope", 0.5, True),
    ("ah ok", "faq", 0.4, True),
])
async def test_an_acknowledgement_is_one_whatever_the_classifier_read(text: str, intent: str, confidence: float,
                                                                    fallback: bool) -> None:
    d = await Chat(demo_policy()).say(text, intent, confidence=confidence, fallback=fallback)
    assert names(d) == ["utter_anything_else"] and d.action == "acknowledgement"
    assert ("nlu.acknowledgement", {"was": intent, "fallback": fallback}) in d.events


async def test_an_acknowledgement_is_no_fallback_in_a_row() -> None:
    chat = Chat(demo_policy())
    await chat.say("blorp", "out_of_scope", confidence=0.4, fallback=True)
    d = await chat.say("Ok", "out_of_scope", confidence=0.5, fallback=True)
    assert names(d) == ["utter_anything_else"]
    d = await chat.say("zzz", "out_of_scope", confidence=0.4, fallback=True)
    assert names(d) == ["utter_default"]  # not yet "shall I get a person?": the "Ok" was understood


@pytest.mark.parametrize("text", ["ok thanks", "ok where is my order", "ok ok ok ok ok", "okay hello", "/ok"])
def test_more_than_acknowledgements_is_something_else(text: str) -> None:
    assert not is_acknowledgement(text)


@pytest.mark.parametrize("text", ["ok", "OK.", "Okay!", "ok ok", "ah, d'accord", "Vale, vale", "va bene", "tá bom",
                                  "w porządku", "anladım", "понятно", "حسناً", "ठीक है", "got it", "alles klar"])
def test_acknowledgements_in_the_brands_languages(text: str) -> None:
    assert is_acknowledgement(text)


async def test_an_acknowledgement_read_as_a_goodbye_keeps_the_task_and_its_question() -> None:
    chat = Chat(demo_policy())
    await chat.say("where is my order", "order_status")
    d = await chat.say("d'accord", "goodbye", confidence=0.83)
    assert names(d) == ["utter_ask_order_number"] and ("flow.acknowledged", {"flow": "order_status",
                                                                              "slot": "order_number"}) in d.events
    assert [f["flow"] for f in chat.stack] == ["order_status"] and chat.stack[0]["attempts"] == 0
    d = await chat.say("ok", "greet", confidence=0.66)  # no attempt spent: no "I still couldn't read a number"
    assert names(d) == ["utter_ask_order_number"]
    d = await chat.say("VT-482913", "inform", entities={"order_number": "VT-482913"})
    assert names(d) == ["utter_order_status"]


async def test_ok_at_a_free_text_question_is_not_the_answer() -> None:
    """The email-or-postcode question takes any text: "ok" is not tried as a proof (a failed one counts
    towards the block), the question is asked again."""
    from tests.dialogs.test_switch_keeps_answers import Fan

    fan = Fan()
    await fan.say("where is my order VT-482913", "order_status", order_number="VT-482913")
    d = await fan.say("ok", "greet", 0.66)
    assert [r.response for r in d.replies] == ["utter_ask_order_proof"]
    assert not fan.slots.get("order_verify_failures")


@pytest.mark.parametrize("text", ["yes please", "Vale", "vale, dale", "d'accord", "oui stp", "gerne", "ja bitte", "sì certo",
                                  "pode ser", "graag", "jasne", "evet lütfen", "да, давайте", "ايوه", "haan ji",
                                  "जी हाँ", "ठीक है", "sure, go ahead"])
def test_a_yes_to_an_offer_in_the_brands_languages(text: str) -> None:
    assert affirms(text)


@pytest.mark.parametrize("text", ["ya no quiero nada", "ok no", "no", "nein danke", "hmm", "ah", "i see",
                                  "yes but first tell me where my order VT-482913 is", "नहीं", "haan nahi chahiye",
                                  "not really", "grazie"])
def test_what_is_not_a_yes(text: str) -> None:
    assert not affirms(text)


@pytest.mark.parametrize("text", ["vale", "d'accord", "gerne", "jasne", "haan ji", "yes please"])
async def test_a_yes_in_the_fans_language_takes_the_offered_task(text: str) -> None:
    """"Shall I also start your refund?" (the second of two requests, offered when the first is done):
    a yes in any of the brand's languages starts it. Before, only English-like words did, and "vale"
    or "d'accord" was an acknowledgement that dropped the offer."""
    chat = Chat(demo_policy(), {"offer": {"intent": "refund_request", "entities": []}})
    d = await chat.say(text, "thanks", confidence=0.6)
    assert names(d) == ["utter_ask_refund_order_number"] and [f["flow"] for f in chat.stack] == ["refund"]


@pytest.mark.parametrize("text", ["hmm", "ya no", "nein danke"])
async def test_no_yes_leaves_the_offer(text: str) -> None:
    chat = Chat(demo_policy(), {"offer": {"intent": "refund_request", "entities": []}})
    await chat.say(text, "thanks", confidence=0.6)
    assert not chat.stack and "offer" not in chat.state
