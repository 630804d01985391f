"""The hard test set (`benchmarks/data/hard_messages.yml`) and its benchmark (`benchmarks/hard_messages.py`):
the shipped file's schema and balance, the training-overlap check, the scoring, and a small subset
through the real trained model and `NLUService` (the full run is `python -m benchmarks.hard_messages`)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.hard_messages import (
    DATA,
    HARDNESS,
    LANGUAGES,
    TRAINING,
    HardMessage,
    load_messages,
    parse_all,
    score_messages,
    training_overlap,
)
from nlu.model import NLUModel, ParseResult
from nlu.readers import load_training_data
from nlu.yamlfile import DataError


@pytest.fixture(scope="module")
def training() -> tuple[list[str], list[str]]:
    return load_training_data([TRAINING]).texts_and_labels()


@pytest.fixture(scope="module")
def messages(training: tuple[list[str], list[str]]) -> list[HardMessage]:
    return load_messages(DATA, set(training[1]))


def test_the_set_is_large_multilingual_and_balanced(messages: list[HardMessage],
                                                     training: tuple[list[str], list[str]]) -> None:
    assert len(messages) >= 400
    langs = Counter(m.language for m in messages)
    assert set(langs) == set(LANGUAGES) and min(langs.values()) >= 25
    assert langs["en"] <= 0.25 * len(messages)
    intents = Counter(m.intent for m in messages)
    assert set(intents) == set(training[1]) and min(intents.values()) >= 20
    kinds = Counter(h for m in messages for h in m.hardness)
    assert all(kinds[h] >= 30 for h in HARDNESS if h != "plain"), kinds
    assert 0.10 <= kinds["plain"] / len(messages) <= 0.20
    assert len({m.text.casefold() for m in messages}) == len(messages)


def test_tags_say_what_the_text_is(messages: list[HardMessage]) -> None:
    for m in messages:
        words = [w for w in m.text.split() if re.search(r"\w", w)]
        if "very_short" in m.hardness:
            assert len(words) <= 3, m
        if "rambling" in m.hardness:  # characters, not words: Turkish says in 19 words what English does in 30
            assert len(m.text) >= 110, m
        if "emoji" in m.hardness:
            assert any(ord(c) > 0x2000 and not c.isalpha() for c in m.text), m
        assert ("two_requests" in m.hardness) == bool(m.also), m


def test_no_test_message_is_a_training_example(messages: list[HardMessage],
                                               training: tuple[list[str], list[str]]) -> None:
    assert training_overlap(messages, training[0]) == []


def test_the_overlap_check_catches_copies_and_near_copies(training: tuple[list[str], list[str]]) -> None:
    texts = ["where is my order, it has been two weeks", "my charger caught fire"]
    def msg(text: str) -> HardMessage:
        return HardMessage(text, "order_status", (), "en", ("plain",), 1)

    hits = training_overlap([msg("Where is my order?? it has been two weeks"), msg("MY CHARGER caught fire!"),
                             msg("where is my orderr, it has been two weeks"),  # Jaccard 0.93: a near copy
                             msg("where is my order, it has been three weeks"),  # 0.78: a different message
                             msg("the arc sounds great")], texts)
    assert [h["text"] for h in hits] == ["Where is my order?? it has been two weeks", "MY CHARGER caught fire!",
                                         "where is my orderr, it has been two weeks"]
    assert hits[0]["jaccard"] == 1.0 and 0.8 <= hits[2]["jaccard"] < 1.0


@pytest.mark.parametrize(("entry", "key", "message"), [
    ('  - {text: "hi", intent: greet, language: en, hardness: [shouting]}', "messages.0.hardness", "unknown hardness"),
    ('  - {text: "hi", intent: hello, language: en, hardness: [plain]}', "messages.0.intent", "not an intent"),
    ('  - {text: "hi", intent: greet, language: xx, hardness: [plain]}', "messages.0.language", "unknown language"),
    ('  - {text: "hi and bye", intent: greet, language: en, hardness: [two_requests]}', "messages.0.hardness",
     "also"),
    ('  - {text: "hi", intent: greet, language: en}', "messages.0.hardness", "required"),
])
def test_a_bad_entry_is_named_by_file_line_and_key(tmp_path: Path, entry: str, key: str, message: str) -> None:
    path = tmp_path / "hard.yml"
    path.write_text(f"version: 1\nmessages:\n{entry}\n")
    with pytest.raises(DataError) as err:
        load_messages(path, {"greet", "goodbye"})
    assert err.value.line == 3 and err.value.key == key and message in err.value.message
    assert str(path) in str(err.value)


def test_scoring_parts_top2_and_confusions() -> None:
    def res(intent: str, *rest: str) -> ParseResult:
        ranking = [(intent, 0.6), *[(r, 0.3) for r in rest]]
        return ParseResult("", intent, 0.6, False, ranking, [], "en", "e5", "test", intents=ranking)

    ms = [HardMessage("a", "greet", (), "en", ("plain",), 1),
          HardMessage("b", "faq", ("greet",), "es", ("two_requests",), 2),
          HardMessage("c", "faq", ("order_status",), "es", ("two_requests",), 3),
          HardMessage("d", "faq", (), "de", ("slang",), 4)]
    body = score_messages(ms, [res("greet"), res("faq", "greet"), res("order_status", "greet"), res("greet")])
    summary = {r["part"]: r for r in body["summary"]}
    assert summary["overall"]["accuracy"] == 0.5 and summary["hard"]["n"] == 3
    assert summary["non_english"]["accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert body["two_requests"] == {"n": 2, "main_intent_accuracy": 0.5, "both_in_top2": 0.5, "both_in_intents": 0.5}
    assert body["worst_confusions"] == [{"intent": "faq", "predicted": "order_status", "count": 1, "example": "c"},
                                        {"intent": "faq", "predicted": "greet", "count": 1, "example": "d"}]
    assert [(r["language"], r["n"]) for r in body["per_language"]] == [("en", 1), ("es", 2), ("de", 1)]
    assert [e["line"] for e in body["errors"]] == [3, 4]


def test_a_subset_through_the_trained_model_and_service(messages: list[HardMessage], nlu_model: NLUModel) -> None:
    """One plain control per intent and a few two-request messages, parsed as the pipeline parses them."""
    plain: dict[str, HardMessage] = {}
    for m in messages:
        if m.hardness == ("plain",):
            plain.setdefault(m.intent, m)
    subset = [*plain.values(), *[m for m in messages if m.also][:4]]
    results = parse_all(nlu_model, [m.text for m in subset])
    assert len(results) == len(subset)
    body = score_messages(subset, results)
    summary = {r["part"]: r for r in body["summary"]}
    assert summary["overall"]["n"] == len(subset)
    # the controls are the easy ones: the shipped model gets most of them
    assert sum(r.intent == m.intent for m, r in zip(subset, results, strict=True) if m.also == ()) >= 0.6 * len(plain)
    assert all(len(r.ranking) >= 2 for r in results)
