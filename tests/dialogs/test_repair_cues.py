"""Conversation repair cues (`dialogs/repair.py`): cancel, skip, correction, switch, question, task."""

from __future__ import annotations

import pytest

from dialogs.repair import (
    asks_for_help,
    asks_for_person,
    asks_why,
    didnt_help,
    extra_words,
    is_cancel,
    is_correction,
    is_question,
    is_skip,
    is_switch,
    split_requests,
    wants_task,
)


@pytest.mark.parametrize("text", [
    "never mind",
    "Never mind.",
    "nevermind",
    "ok never mind",
    "um, forget it",
    "forget it, I'll just keep it",
    "stop",
    "STOP",
    "stop!",
    "stop it",
    "stop that please",
    "please stop",
    "no thanks",
    "no, thanks",
    "no, thank you",
    "cancel",
    "cancel that please",
    "/cancel",
    "I changed my mind",
    "i will keep it",
    # es, de, fr, it, nl, pt
    "olvídalo",
    "olvidalo",
    "no, gracias",
    "vergiss es",
    "ich behalte es",
    "laisse tomber",
    "non merci",
    "lascia perdere",
    "laat maar",
    "deixa pra lá",
    "não, obrigado",
])
def test_cancel(text: str) -> None:
    assert is_cancel(text)


@pytest.mark.parametrize("text", [
    "",
    "   ",
    "my buds stop charging",
    "stop charging after a week",
    "para qué sirve esto?",
    # a real request that happens to start with "stop": it must not drop the task
    "stop sending me emails about the order VT-100200 I need a refund",
    "can I cancel my order?",
    "how do I cancel a subscription",
    "VT-482913",
    "the cancellation policy please",
    "where is my order",
    "quit sending me emails about the order VT-100200, I need a refund",
    "lass mich wissen, wann VT-482913 ankommt",  # "let me know when ..."
    "deixa eu ver o status do pedido VT-482913",  # "let me see the status ..."
])
def test_not_cancel(text: str) -> None:
    assert not is_cancel(text)


def test_cancel_anywhere_only_in_short_messages() -> None:
    assert is_cancel("ah ok, thanks, I think I'll just keep it")
    long = "I was going to send the speaker back but honestly after reading all this I think I'll just keep it"
    assert len(long.split()) > 12
    assert not is_cancel(long)


@pytest.mark.parametrize("text", [
    "skip", "skip it", "pass", "I don't know", "i dont know", "dunno", "no idea", "not sure", "n/a",
    "no lo sé", "weiß ich nicht", "keine Ahnung", "je ne sais pas", "non lo so", "não sei", "weet ik niet",
])
def test_skip(text: str) -> None:
    assert is_skip(text)


@pytest.mark.parametrize("text", [
    "VT-482913",
    "skip the intro and tell me where VT-482913 is",
    "I don't know what happened to my order and it is late again",  # more than a "don't know"
    "yesterday",
])
def test_not_skip(text: str) -> None:
    assert not is_skip(text)


@pytest.mark.parametrize("text", [
    "sorry, it's VT-100200", "I meant VT-100200", "oops VT-100200", "no wait, VT-100201",
    "correction: VT-100200", "actually it is VT-100200", "perdón, es VT-100200", "quise decir VT-100200",
    "ich meinte VT-100200", "pardon, VT-100200", "je voulais dire VT-100200", "intendevo VT-100200",
    "quis dizer VT-100200", "ik bedoelde VT-100200",
])
def test_correction(text: str) -> None:
    assert is_correction(text)


@pytest.mark.parametrize("text", ["VT-100200", "sorrow", "my order is VT-100200", "where is it"])
def test_not_correction(text: str) -> None:
    assert not is_correction(text)


@pytest.mark.parametrize("text", [
    "actually, where is my order VT-555123 instead?",
    "where is my order instead",
    "never mind the refund, where is my order",
    "forget the refund",
    "I'd rather know where my order is",
    "mejor dime dónde está mi pedido",
    "stattdessen: wo ist meine Bestellung?",
    "plutôt, où est ma commande ?",
    "invece, dov'è il mio ordine?",
    "olvídalo, quiero un reembolso",  # one word with the pronoun, as typed ("olvida lo" is not)
    "olvidalo, mejor un reembolso",
    "déjalo, quiero un reembolso",
])
def test_switch(text: str) -> None:
    assert is_switch(text)


@pytest.mark.parametrize("text", [
    "first, where is my order instead?",  # something else first: the old task is paused, not dropped
    "quickly, where is my order instead",
    "btw where is my order instead",
    "zuerst, wo ist meine Bestellung stattdessen?",
    "where is my order",
    "VT-555123",
    "lo olvidé en casa",  # "I forgot it at home": not a switch
])
def test_not_switch(text: str) -> None:
    assert not is_switch(text)


@pytest.mark.parametrize("text", [
    "where is my order", "where is my order?", "is it waterproof", "can I pay with klarna",
    "¿dónde está mi pedido", "dónde está mi pedido", "cuándo llega", "wo ist meine Bestellung",
    "Wie lange dauert der Versand", "comment retourner un produit", "quand arrive ma commande",
    "come posso pagare", "quando arriva", "onde está meu pedido", "hoe lang duurt het", "my order is late?",
])
def test_question(text: str) -> None:
    assert is_question(text)


@pytest.mark.parametrize("text", ["VT-482913", "I want a refund", "it is broken.", "whatever", "howdy", "canada"])
def test_not_question(text: str) -> None:
    assert not is_question(text)


@pytest.mark.parametrize("text", [
    "I want a refund", "I'd like to return it", "please refund my order", "refund my order", "track my parcel",
    "quiero un reembolso", "ich möchte eine Rückerstattung", "je veux être remboursé", "vorrei un rimborso",
    "eu quero devolver", "ik wil mijn geld terug",
])
def test_wants_task(text: str) -> None:
    assert wants_task(text)


@pytest.mark.parametrize("text", [
    "what is your refund policy?", "how do refunds work", "i wanted to ask", "the dog wants food",
])
def test_does_not_want_task(text: str) -> None:
    assert not wants_task(text)


@pytest.mark.parametrize(("text", "parts"), [
    ("where is VT-482913 and can I pay with klarna?", ["where is VT-482913", "can I pay with klarna?"]),
    ("where is VT-482913? can I pay with klarna?", ["where is VT-482913?", "can I pay with klarna?"]),
    ("where is VT-482913 and also can I pay with klarna?", ["where is VT-482913", "can I pay with klarna?"]),
    ("my order is late and I want a refund", ["my order is late", "I want a refund"]),
    ("wo ist VT-482913 und kann ich mit Klarna zahlen", ["wo ist VT-482913", "kann ich mit Klarna zahlen"]),
    ("¿dónde está VT-482913 y puedo pagar con klarna?", ["¿dónde está VT-482913", "puedo pagar con klarna?"]),
    # Spanish opens a question or an exclamation with an inverted mark: a clause starts there
    ("quiero un reembolso ¿cuánto tarda el envío?", ["quiero un reembolso", "¿cuánto tarda el envío?"]),
    ("quiero un reembolso, ¿cuánto tarda el envío?", ["quiero un reembolso", "¿cuánto tarda el envío?"]),
    ("¿dónde está mi pedido? ¿cuánto tarda el envío?", ["¿dónde está mi pedido?", "¿cuánto tarda el envío?"]),
    ("¡quiero un reembolso ya! ¿cuánto tarda el envío?", ["¡quiero un reembolso ya!", "¿cuánto tarda el envío?"]),
    ("me llegó roto el reloj ¡quiero mi dinero de vuelta!", ["me llegó roto el reloj", "¡quiero mi dinero de vuelta!"]),
    ("¿dónde está VT-482913 y ¿puedo pagar con klarna?", ["¿dónde está VT-482913", "¿puedo pagar con klarna?"]),
])
def test_split_two_requests(text: str, parts: list[str]) -> None:
    assert split_requests(text) == parts


@pytest.mark.parametrize("text", [
    "black and white",
    "do you have the buds in black and white",
    "cats and dogs",
    "hi and can I",  # a part under three words: no split
    "where is my order",
    "  where is my order  ",
    "¿cuánto tarda el envío a España?",  # the mark opens the message: nothing before it
    "hola ¿qué tal estás?",  # a part under three words
    "gracias ¡qué rápido!",
])
def test_no_split(text: str) -> None:
    assert split_requests(text) == [text.strip()]


def test_no_split_of_a_very_long_message() -> None:
    text = "x" * 401 + " and can I pay with klarna please"
    assert split_requests(text) == [text]


@pytest.mark.parametrize(("text", "value", "extra"), [
    ("VT-482913", "VT-482913", 0),
    ("my order number is VT-482913", "VT-482913", 0),
    ("it's vt 482913 thanks!", "VT-482913", 0),  # any order number form counts as the value
    ("mi pedido es VT-482913", "VT-482913", 0),
    ("VT-482913 please, it's taking forever to arrive", "VT-482913", 4),
    ("my order is VT-482913 and it never arrived, I want a refund", "VT-482913", 6),
    ("hello world", None, 2),
    ("", None, 0),
    ("black", "black", 0),
])
def test_extra_words(text: str, value: str | None, extra: int) -> None:
    assert extra_words(text, value) == extra


@pytest.mark.parametrize("text", [
    "still doesn't work", "that didn't help", "it still won't connect", "that's not what I asked", "not helpful",
    "no me sirve", "sigue sin funcionar", "das hilft mir nicht", "funktioniert immer noch nicht",
    "ça ne m'a pas aidé", "ne marche toujours pas", "non mi ha aiutato", "ainda não funciona", "helpt niet",
    "nie pomogło", "nadal nie działa", "işe yaramadı", "не помогло", "لم يساعدني", "अभी भी काम नहीं कर रहा",
    "still doesn't work, I tried resetting it twice", "that's not what I asked?",
])
def test_an_answer_that_did_not_help(text: str) -> None:
    assert didnt_help(text)


@pytest.mark.parametrize("text", [
    "thanks, that helped", "it works now", "where is my order?", "ça marche très bien", "does it help with sleep?",
    "my order still hasn't arrived and nobody answers my emails, this is the third time I write to you about it",
    "that's not what I asked, how much is shipping to Spain?", "that didn't help, I want a refund",
])
def test_no_complaint_about_the_answer(text: str) -> None:
    assert not didnt_help(text)


@pytest.mark.parametrize("text", [
    "why?", "why do you need that?", "Why do you need my email", "what for?", "what do you need that for?",
    "is that really necessary?", "¿para qué?", "¿por qué lo necesitas?", "wozu?", "warum brauchst du das?",
    "pourquoi ?", "pourquoi vous en avez besoin ?", "perché?", "a cosa ti serve?", "por que você precisa disso?",
    "waarom?", "po co?", "neden?", "зачем?", "لماذا؟", "क्यों?", "but why?",
])
def test_asking_why_the_question_is_asked(text: str) -> None:
    assert asks_why(text)


@pytest.mark.parametrize("text", [
    "why hasn't my order arrived?", "why is my order late", "what is it for the buds pro charging",
    "my email is ana@example.com", "warum ist meine Bestellung noch nicht da?", "1012 AB",
])
def test_a_question_about_something_else_is_no_why(text: str) -> None:
    assert not asks_why(text)


@pytest.mark.parametrize("text", [
    "I don't have my order number", "i can't find it", "I do not have the order number", "no tengo el número de pedido",
    "no lo encuentro", "ich habe die Bestellnummer nicht", "je n'ai pas le numéro de commande", "non lo trovo",
    "não tenho o número do pedido", "ik heb het nummer niet", "nie mam numeru zamówienia", "sipariş numaram yok",
    "у меня нет номера заказа", "ما عندي رقم الطلب", "मेरे पास ऑर्डर नंबर नहीं है",
])
def test_no_order_number_at_hand_is_a_skip(text: str) -> None:
    assert is_skip(text)


@pytest.mark.parametrize("text", [
    "no tengo tiempo para esto", "non trovo il modo di farlo", "не могу найти наушники", "je ne trouve pas le bouton",
    "tengo el número VT-482913",
])
def test_not_having_something_else_is_no_skip(text: str) -> None:
    assert not is_skip(text)


@pytest.mark.parametrize("text", ["help", "/help", "Help!", "can you help me?", "hi, I need help", "what can you do?",
                                  "ayuda", "¿me puedes ayudar?", "Hilfe!", "aidez-moi", "aiuto", "preciso de ajuda",
                                  "help mij", "pomocy", "yardım", "помогите", "ساعدني", "मदद चाहिए"])
def test_help_alone(text: str) -> None:
    assert asks_for_help(text)


@pytest.mark.parametrize("text", ["I need help with my order", "help me find my order VT-482913", "helpful, thanks",
                                  "can you help me with a refund?", "I want to talk to a human, help"])
def test_help_with_something_is_that_something(text: str) -> None:
    assert not asks_for_help(text)


@pytest.mark.parametrize("text", ["I want to speak to someone about my order VT-482913", "can I talk to a human?",
                                  "let me chat with a real person", "hablar con una persona", "je veux parler à quelqu'un",
                                  "ich möchte mit einem Menschen sprechen", "posso parlare con un operatore?",
                                  "quero falar com um atendente", "поговорить с человеком", "kisi insaan se baat karni hai"])
def test_a_person_asked_for(text: str) -> None:
    assert asks_for_person(text)


@pytest.mark.parametrize("text", ["I spoke to someone yesterday", "talk to you later", "someone stole my parcel",
                                  "my son wants to talk to the buds pro"])
def test_no_person_asked_for(text: str) -> None:
    assert not asks_for_person(text)
