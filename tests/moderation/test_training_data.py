"""The shipped moderation training data (training_data/moderation/*.csv, CC0) and the default heads
`fancare train` makes from it: every file is read, bad rows are named by file and line, and the heads
learn all twelve demo languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from moderation.normalize import normalize
from moderation.signals import ModerationHeads, SignalExtractor
from moderation.train import load_examples, train_and_save
from nlu.encoders import get_encoder
from nlu.model import clean_text
from tests.conftest import REPO

DATA = REPO / "training_data" / "moderation"


def test_every_csv_in_the_folder_is_training_data() -> None:
    ex = load_examples(DATA)
    files = sorted(p.name for p in DATA.glob("*.csv"))
    assert {"sentiment.csv", "toxicity.csv", "sentiment-languages.csv", "toxicity-languages.csv"} <= set(files)
    assert len(ex["offensive"]) >= 1200 and len(ex["sentiment"]) >= 550
    assert sum(lab == "yes" for _, lab in ex["hate"]) >= 120
    for head, labels in (("sentiment", {"negative", "neutral", "positive"}), ("offensive", {"no", "yes"})):
        counts = {lab: sum(lab == y for _, y in ex[head]) for lab in labels}
        assert min(counts.values()) >= 150, counts  # no class left with a handful of examples
    texts = " ".join(t for t, _ in ex["sentiment"])
    for script_sample in ("ä", "é", "ñ", "ł", "ş", "я", "ا", "ह"):  # de fr es pl tr ru ar hi, beside en it nl pt
        assert script_sample in texts


def _write(d: Path, name: str, body: str) -> None:
    d.mkdir(exist_ok=True)
    (d / name).write_text(body, encoding="utf-8")


def test_a_bad_label_is_named_by_file_and_line(tmp_path: Path) -> None:
    _write(tmp_path, "toxicity-x.csv", "# a comment\ntext,offensive,hate\nyou idiot,yes,no\nhello,maybe,no\n")
    with pytest.raises(ValueError, match=r"toxicity-x\.csv:4: column 'offensive' is 'maybe'"):
        load_examples(tmp_path)


def test_a_text_labelled_two_ways_is_an_error_naming_both(tmp_path: Path) -> None:
    _write(tmp_path, "sentiment-a.csv", "text,label\ngreat game,positive\n")
    _write(tmp_path, "sentiment-b.csv", "text,label\n\nGreat  game,negative\n")
    with pytest.raises(ValueError, match=r"sentiment-b\.csv:3: .*sentiment-a\.csv:2"):
        load_examples(tmp_path)
    _write(tmp_path, "sentiment-b.csv", "text,label\ngreat game,positive\nawful,negative\n")
    assert len(load_examples(tmp_path)["sentiment"]) == 2  # an exact repeat counts once


def test_hate_without_offensive_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "toxicity.csv", "text,offensive,hate\nsome text,no,yes\n")
    with pytest.raises(ValueError, match=r"toxicity\.csv:2: hate 'yes' needs offensive 'yes'"):
        load_examples(tmp_path)


@pytest.mark.timeout(900)  # encodes ~1,900 texts: minutes on a loaded 2-core machine
def test_the_default_heads_are_trained_from_the_enlarged_data(tmp_path: Path) -> None:
    path, heads = train_and_save(DATA, tmp_path, ["minilm"])
    ex = load_examples(DATA)
    assert heads.meta["examples"] == {k: len(v) for k, v in ex.items()}
    loaded = ModerationHeads.load(path)
    assert loaded is not None
    enc = get_encoder("minilm")

    def yes(text: str, head: str) -> float:  # the trained head alone (the signal also takes the lexicon's max)
        vec = enc.encode_queries([clean_text(text)])[0]
        return loaded.predict(normalize(text), "minilm", vec)[head]["yes"]

    def sentiment(text: str) -> str:  # messages written for this test, not in the training files
        vec = enc.encode_queries([clean_text(text)])[0]
        return SignalExtractor(loaded).extract(text, embedding=vec, encoder="minilm").sentiment

    assert yes("the linesman is a brainless clown, get him off the pitch", "offensive") > 0.5
    assert yes("can someone tell me when the away tickets go on sale", "offensive") < 0.5
    assert yes("I need help with my damn login, it keeps failing", "offensive") < 0.5
    assert yes("send every one of those migrants back on the next boat, filthy invaders", "hate") > 0.5
    assert yes("the friendly with the women's team was great fun", "hate") < 0.5
    assert sentiment("what a brilliant evening, thank you all so much") == "positive"
    assert sentiment("the stream froze for the whole second half, so annoying") == "negative"
