"""Two requests in one message without punctuation (nlu/clauses.py and `NLUModel.with_cuts`): where a
message may be cut, in the demo's 12 languages, and what the real demo model makes of the halves."""

from __future__ import annotations

import pytest

from nlu.clauses import MAX_CANDIDATES, candidate_cuts
from nlu.model import NLUModel
from nlu.service import NLUService


@pytest.mark.parametrize(("text", "language", "first", "second"), [
    ("where is my order and also I want to change my address", "en", "where is my order",
     "I want to change my address"),
    ("refund pls also do u ship to spain", "en", "refund pls", "do u ship to spain"),
    ("dónde está mi pedido y también quiero hablar con alguien", "es", "dónde está mi pedido",
     "quiero hablar con alguien"),
    ("wo ist mein paket außerdem will ich die adresse ändern", "de", "wo ist mein paket",
     "außerdem will ich die adresse ändern"),  # verb second: the adverb stays with its clause
    ("je veux un remboursement et aussi vous livrez en suisse", "fr", "je veux un remboursement",
     "vous livrez en suisse"),
    ("cadê meu pedido além disso quero trocar o endereço", "pt", "cadê meu pedido", "quero trocar o endereço"),
    ("voglio il rimborso inoltre spedite in svizzera", "it", "voglio il rimborso", "spedite in svizzera"),
    ("waar is mijn pakket en ook wil ik iemand spreken", "nl", "waar is mijn pakket", "ook wil ik iemand spreken"),
    ("gdzie jest paczka a także chcę zwrot", "pl", "gdzie jest paczka", "chcę zwrot"),
    ("siparişim nerede ayrıca iade istiyorum", "tr", "siparişim nerede", "iade istiyorum"),
    ("где мой заказ а также верните деньги", "ru", "где мой заказ", "верните деньги"),
    ("وين طلبي وكمان أبغى أكلم موظف", "ar", "وين طلبي", "أبغى أكلم موظف"),
    ("मेरा ऑर्डर कहाँ है और भी रिफंड चाहिए", "hi", "मेरा ऑर्डर कहाँ है", "रिफंड चाहिए"),
    ("mera order kahan hai aur bhi refund chahiye", "hi", "mera order kahan hai", "refund chahiye"),
])
def test_a_cue_word_is_the_first_cut_in_every_language(text: str, language: str, first: str, second: str) -> None:
    cut = candidate_cuts(text, language)[0]
    assert (cut.first, cut.second) == (first, second)
    assert cut.announced  # a cue word, not punctuation or a bare "and": the first half is a request


def test_a_german_or_dutch_adverb_stays_with_its_clause_the_conjunction_goes() -> None:
    cut = candidate_cuts("wo ist meine Bestellung VT-482913 und außerdem will ich eine Erstattung", "de")[0]
    assert (cut.first, cut.second) == ("wo ist meine Bestellung VT-482913", "außerdem will ich eine Erstattung")
    # English cues in a German message, and the same adverb-led clause in English, lose the cue as before
    assert candidate_cuts("where is my order and also I want a refund", "en")[0].second == "I want a refund"
    assert candidate_cuts("wo ist mein paket und auch will ich reden", "de")[0].second == "auch will ich reden"


def test_punctuation_and_bare_conjunctions_are_weaker_and_not_announced() -> None:
    cuts = candidate_cuts("the arc stopped pairing yesterday. how do I reset it", "en")
    assert [(c.first, c.second, c.announced) for c in cuts] == [
        ("the arc stopped pairing yesterday", "how do I reset it", False)]
    bare = candidate_cuts("the buds pro and the charging case both stopped working", "en")
    assert bare and all(not c.announced and c.strength >= 2 for c in bare)
    # a question mark stays with its question
    assert candidate_cuts("is the arc waterproof? where is my order", "en")[0].first == "is the arc waterproof?"


def test_no_cut_where_a_half_would_be_a_fragment_or_the_message_is_a_story() -> None:
    assert candidate_cuts("refund and bye", "en") == []  # halves of one word
    assert candidate_cuts("buds and case broke", "en") == []  # a bare "and" needs three words a side
    assert candidate_cuts("the box was crushed, I want a refund", "en") == []  # a comma joins a reason
    assert candidate_cuts("where is it and also " + "x " * 300, "en") == []  # over 400 characters
    many = candidate_cuts("a b c and d e f and g h i and j k l and m n o", "en")
    assert len(many) == MAX_CANDIDATES


def test_language_picks_its_cue_words_and_english() -> None:
    text = "wo ist mein paket außerdem will ich die adresse ändern"
    assert candidate_cuts(text, "fr") == []  # "außerdem" is no French cue
    assert candidate_cuts(text, None)  # unknown language: every language's cues
    assert candidate_cuts("wo ist mein paket also will ich reden", "de")  # English cues count everywhere


def test_two_requests_without_punctuation_are_both_understood(nlu_model: NLUModel) -> None:
    r = nlu_model.parse("refund pls also do u ship to spain")
    assert [n for n, _ in r.intents] == ["refund_request", "faq"]  # in the order written
    assert r.intent == "refund_request" and not r.fallback
    de = nlu_model.parse("wo bleibt mein paket außerdem möchte ich mit einem mitarbeiter sprechen")
    assert [n for n, _ in de.intents] == ["order_status", "human_handoff"]


def test_one_request_with_and_stays_one(nlu_model: NLUModel) -> None:
    for text in ["the buds pro and the charging case both stopped working", "do you ship to spain and portugal",
                 "ich möchte mein geld zurück und die uhr zurückschicken"]:
        r = nlu_model.parse(text)
        assert len(r.intents) == 1 and r.intents[0][0] == r.intent, (text, r.intents)


async def test_the_serving_path_finds_them_too(nlu_model: NLUModel) -> None:
    r = await NLUService(nlu_model).parse("где мой заказ а также хочу поговорить с оператором")
    assert [n for n, _ in r.intents] == ["order_status", "human_handoff"]
