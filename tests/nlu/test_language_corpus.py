"""First-message language from the brand's own texts (nlu/language_corpus.py) and alphabets.

Real lingua models and the shipped word table; the small tables below exercise the rules on words
no real language has, so each assertion shows the rule, not lingua's opinion."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.language import CORPUS_WEIGHT, DEFAULT_LANGUAGES, LanguageIdentifier
from nlu.language_corpus import CORPUS_FILE, EVERYWHERE, build, build_from, corpus_words, load, texts_by_language

REPO = Path(__file__).resolve().parents[2]

LANGS = list(DEFAULT_LANGUAGES)


@pytest.fixture(scope="module")
def ident() -> LanguageIdentifier:
    return LanguageIdentifier(LANGS)


# first-message misses of BENCHMARKS.md section 14 (issue 13), each wrong before the word table and
# the alphabets: es/pt pairs, Dutch read as French, short Italian/Portuguese praise, a product name
@pytest.mark.parametrize(("text", "lang"), [
    ("como peço reembolso?", "pt"),  # was Spanish: "ç" is no Spanish letter
    ("como peço um reembolso", "pt"),
    ("dank je wel", "nl"),  # was French
    ("Dank je wel!", "nl"),
    ("ótimo", "pt"),  # was "und"
    ("bellissime cuffie", "it"),  # was French
    ("buds pro bozuldu", "tr"),  # was "und": "buds pro" is a name every language's texts use
])
def test_first_message_misses(ident: LanguageIdentifier, text: str, lang: str) -> None:
    assert ident.detect(text)[0] == lang


def test_a_word_the_lexicon_shares_keeps_the_conversation_language(ident: LanguageIdentifier) -> None:
    # "funciona" is Spanish and Portuguese (chat lexicon); the texts' table must not make it Portuguese
    assert ident.detect("no funciona", prior="es")[0] == "es"
    assert ident.detect("não funciona", prior="es")[0] == "pt"  # "ã": Portuguese's own letter
    assert ident.tied("hallo") == ("de", "nl")  # a shared greeting alone stays a tie


def test_a_lone_loanword_keeps_the_conversation_language(ident: LanguageIdentifier) -> None:
    # only the English texts happen to use "okay": alone it may open an English conversation (weakly)
    # but never outweighs the conversation's language; "ok" says nothing at all
    assert ident.detect("okay", prior="es")[0] == "es"
    assert ident.detect("ótimo", prior="es")[0] == "es"
    assert ident.detect("ok")[0] == "und"
    assert ident.tied("reembolso") == ("es", "pt")  # a lone word two languages' texts use: their tie


def test_a_corpus_word_is_evidence_for_the_languages_that_use_it() -> None:
    corpus = {"zorblat": ("it",), "quimbly": ("es", "pt")}
    with_words = LanguageIdentifier(LANGS, corpus=corpus)
    without = LanguageIdentifier(LANGS, corpus={})
    assert with_words.detect("zorblat")[0] == "it"  # alone, a word one language uses: a tie of one
    assert without.detect("zorblat")[0] == "und"
    # a word two languages use adds half a word to each of them, nothing to the others
    gain = {c: v - without._logits("quimbly blorfet", None)[c]
            for c, v in with_words._logits("quimbly blorfet", None).items()}
    assert gain == pytest.approx({c: CORPUS_WEIGHT / 2 if c in ("es", "pt") else 0.0 for c in gain})


def test_words_every_language_uses_are_names_and_ignored() -> None:
    corpus = {"voltora": (EVERYWHERE,), "de": (EVERYWHERE,)}
    ident = LanguageIdentifier(LANGS, corpus=corpus)
    assert "voltora" in ident._ignore  # a name says nothing about the language
    assert "de" not in ident._ignore  # two letters: a function word of some languages


def test_alphabets_rule_out_languages_without_the_letter(ident: LanguageIdentifier) -> None:
    def leaders(text: str) -> set[str]:
        logits = ident._logits(text, None)
        return {c for c, v in logits.items() if v == max(logits.values())}

    assert leaders("xaç") == {"fr", "pt", "tr"}  # an unknown word: only its letters say anything
    assert leaders("bröt") == {"de", "nl", "tr"}
    assert ident.detect("¿qué tal?")[0] == "es"


def test_build_keeps_words_few_languages_use() -> None:
    texts = {"es": ["el pedido llegó", "Hola {name}"], "pt": ["o pedido chegou"], "it": ["l'ordine è arrivato"],
             "en": ["the order arrived"], "ru": ["заказ пришёл"]}
    table = build(texts, max_owners=1)
    assert table["es"] == ["el", "hola", "llegó"]  # not "name": placeholders are not prose
    assert "pedido" not in {w for words in table.values() for w in words}  # es and pt: over max_owners=1
    assert "заказ" not in {w for words in table.values() for w in words}  # Cyrillic is decided by script
    assert build(texts)["es pt"] == ["pedido"]


def test_build_puts_words_every_language_uses_under_everywhere() -> None:
    texts = {lang: [f"voltora {word}"] for lang, word in [("en", "hi"), ("es", "hola"), ("de", "hallo"),
                                                            ("fr", "salut"), ("it", "ciao")]}
    assert build(texts)[EVERYWHERE] == ["voltora"]


def test_words_english_fans_write_too_are_loanwords_not_evidence() -> None:
    """"ok" in some Italian, Polish and Turkish examples made "ok" open a conversation in Italian."""
    texts = {"en": ["where is my order"], "it": ["ok grazie"], "pl": ["ok dzięki"], "tr": ["ok sağol"]}
    table = build(texts, borrowed={"ok", "order"})
    assert "ok" not in {w for words in table.values() for w in words}
    assert table["en"] == ["is", "my", "order", "where"]  # English's own words stay English evidence
    assert table["it"] == ["grazie"]


def test_the_shipped_table_covers_each_latin_language() -> None:
    words = corpus_words()
    for lang in ("en", "es", "de", "fr", "pt", "it", "nl", "pl", "tr"):
        assert sum(users == (lang,) for users in words.values()) > 100, lang
    assert words["voltora"] == (EVERYWHERE,)


def test_the_shipped_table_is_current_with_the_brand_texts() -> None:
    """The table is generated: an article, translation or training example added without running
    `python -m nlu.language_corpus` would leave first-message detection reading stale evidence."""
    fresh = build_from(REPO / "knowledge_base" / "articles", REPO / "dialogs" / "translations",
                       REPO / "dialogs" / "domain.yml", [REPO / "training_data"])
    shipped = load(CORPUS_FILE)
    rebuilt = {word: tuple(key.split()) for key, words in fresh.items() for word in words}
    changed = sorted(set(shipped.items()) ^ set(rebuilt.items()))
    assert not changed, f"nlu/language_corpus.yml is stale ({len(changed)} entries differ, e.g. {changed[:5]}): " \
                        "run `python -m nlu.language_corpus`"


def test_texts_by_language_reads_articles_by_their_language(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.md").write_text("---\nid: x\nlanguage: nl\nquestions: [waar is mijn pakket]\n---\n"
                                         "Dank je wel.\n", encoding="utf-8")
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "it.yml").write_text("responses:\n  utter_x:\n    - text: Grazie mille\n"
                                           "      buttons: [{title: Sì, payload: /yes}]\n", encoding="utf-8")
    texts = texts_by_language(tmp_path / "a", tmp_path / "t")
    assert "waar is mijn pakket" in texts["nl"] and any("Dank je wel" in t for t in texts["nl"])
    assert texts["it"] == ["Grazie mille", "Sì"]  # payloads are not Italian


def test_bad_files_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "words.yml"
    bad.write_text("nl: wel\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"words\.yml.*'nl'"):
        load(bad)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "broken.md").write_text("no front matter here\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.md: expected front matter"):
        texts_by_language(tmp_path / "a", tmp_path)
