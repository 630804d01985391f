"""What `NLUModel.train` chooses by cross-validation: the head that serves English with the cascade,
and the TF-IDF model's weight (BENCHMARKS.md sections 1, 2 and 16). Real encoders and heads; the
choice functions are also fed out-of-fold scores written out here, to pin the rule itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from bot.cli import model_choices
from bot.config import NLUConfig
from nlu.classifier import IntentClassifier
from nlu.model import MIN_ENGLISH, TEXT_WEIGHTS, NLUModel, _choose_english_head, _choose_text_weight, _served_oof
from tests.nlu.test_features import _td  # the three BANKING-style intents those tests use


def _head(right: np.ndarray, sims: float) -> IntentClassifier:
    """A head whose out-of-fold reading of row i is right exactly where `right[i]` (two intents)."""
    target = np.zeros(len(right), dtype=int)
    probs = np.where(right[:, None], [[0.9, 0.1]], [[0.2, 0.8]])
    head = IntentClassifier()
    head.labels = ["a", "b"]
    head.oof = (probs, np.full((len(right), 2), sims, dtype=np.float32), target)
    return head


def test_minilm_serves_english_only_when_it_is_surer_there_than_chance() -> None:
    n = 80
    e5_right = np.arange(n) % 4 != 0  # 60 of 80
    clearly = {"e5": _head(e5_right, 0.9), "minilm": _head(np.ones(n, bool), 0.5)}  # 80 of 80: z = 20 / sqrt(20)
    assert _choose_english_head(clearly, np.ones(n, bool))[0] == "minilm"
    # the same advantage on fewer English examples than MIN_ENGLISH, the rest in other languages
    few = np.arange(n) < MIN_ENGLISH - 1
    assert _choose_english_head(clearly, few)[0] == "e5"
    # a difference of two examples is chance (z = 2 / sqrt(2) < 2)
    near = e5_right.copy()
    near[[0, 4]] = True
    close = {"e5": _head(e5_right, 0.9), "minilm": _head(near, 0.5)}
    choice, info = _choose_english_head(close, np.ones(n, bool))
    assert choice == "e5" and info["minilm_accuracy"] > info["e5_accuracy"] and 0 < info["z"] < 2


def test_served_scores_come_from_the_head_that_serves_each_example() -> None:
    n = 6
    heads = {"e5": _head(np.zeros(n, bool), 0.9), "minilm": _head(np.ones(n, bool), 0.5)}
    is_en = np.array([True, True, False, True, False, False])
    probs, sims, _ = _served_oof(heads, "minilm", is_en)
    assert (probs.argmax(axis=1) == 0).tolist() == is_en.tolist()
    # two encoders' cosines are on different scales: no distance cut when both serve
    assert np.all(sims == 1.0)
    _, sims_en, _ = _served_oof(heads, "minilm", np.ones(n, bool))
    assert np.allclose(sims_en, 0.5)


def test_tfidf_weight_goes_to_the_blend_only_when_it_wins_out_of_fold() -> None:
    rng = np.random.default_rng(0)
    target = np.arange(200) % 4
    head = np.full((200, 4), 0.1)
    head[np.arange(200), target] = 0.7
    wrong = rng.random(200) < 0.3  # the head is wrong on these; the n-gram model is right everywhere
    head[wrong] = np.roll(head[wrong], 1, axis=1)
    text = np.full((200, 4), 0.05)
    text[np.arange(200), target] = 0.85
    weight, temperature, info = _choose_text_weight(head, text, target)
    assert weight in TEXT_WEIGHTS and weight > 0
    assert info["blend_accuracy"] > info["head_accuracy"]
    assert temperature < 1.0  # the average is flatter than either: sharpened back
    # a model that adds nothing is left out (weight 0, no temperature)
    assert _choose_text_weight(head, head, target)[:2] == (0.0, 1.0)


def test_tfidf_weight_is_chosen_at_training_and_travels_with_the_model(tmp_path: Path) -> None:
    model = NLUModel.train(_td(), route="minilm", features=["tfidf"], threshold=0.0)
    choice = model.meta["text_weight"]
    assert choice["weight"] in TEXT_WEIGHTS and choice["weight"] == model.text_weight
    assert (model.text_model is None) == (choice["weight"] == 0.0)
    model.save(tmp_path)
    loaded = NLUModel.load(tmp_path)
    assert loaded.text_weight == model.text_weight and loaded.text_temperature == pytest.approx(model.text_temperature)
    probe = ["put money on my balance", "has my card shipped yet"]
    assert [r.confidence for r in loaded.parse_many(probe)] == pytest.approx(
        [r.confidence for r in model.parse_many(probe)], abs=1e-5)
    # a weight given in config is used as it is
    fixed = NLUModel.train(_td(), route="minilm", features=["tfidf"], text_weight=0.3, threshold=0.0)
    assert fixed.text_weight == 0.3 and "text_weight" not in fixed.meta
    with pytest.raises(ValueError, match="TF-IDF weight"):
        NLUModel.train(_td(), route="minilm", features=["tfidf"], text_weight="auto")


def test_cascade_routes_english_to_the_chosen_head_at_rest(tmp_path: Path) -> None:
    model = NLUModel.train(_td(), route="cascade", threshold=0.0)
    # 18 English examples: too few to prefer MiniLM, e5 serves every language
    assert model.meta["english_head"]["encoder"] == "e5" and model.english == "e5"
    assert model_choices(model.meta)[0].startswith("English served by e5 (out-of-fold accuracy on 18 English")
    assert model.route_for("where is my new card please")[0] == "e5"
    assert model.route_for("where is my new card please", busy=True)[0] == "minilm"
    model.english = "minilm"  # what an English-only brand's data chooses (BANKING77: z = 4)
    assert model.route_for("where is my new card please") == ("minilm", "en")
    assert model.route_for("¿dónde está mi nueva tarjeta, por favor?")[0] == "e5"
    assert model.parse("where is my new card please").encoder == "minilm"
    model.save(tmp_path)
    assert NLUModel.load(tmp_path).english == "minilm"


def test_config_takes_a_weight_or_cv() -> None:
    assert NLUConfig().tfidf_weight == "cv"
    assert NLUConfig(tfidf_weight=0.3).tfidf_weight == 0.3
    with pytest.raises(ValidationError):
        NLUConfig(tfidf_weight="auto")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        NLUConfig(tfidf_weight=1.5)


def test_the_choices_are_said_in_words() -> None:
    meta = {"english_head": {"encoder": "minilm", "english_examples": 10001, "e5_accuracy": 0.924,
                             "minilm_accuracy": 0.9322, "z": 4.02},
            "text_weight": {"weight": 0.2, "temperature": 0.82, "head_accuracy": 0.9322, "blend_accuracy": 0.9355}}
    assert model_choices(meta) == [
        "English served by minilm (out-of-fold accuracy on 10001 English examples: e5 0.924, MiniLM 0.932)",
        "TF-IDF weight 0.2 (out-of-fold accuracy 0.932 without, 0.935 with)"]
    assert model_choices({}) == []
    tuned = {"finetuned": True, "finetune_epochs": 4, "finetune_seconds": 180.2}
    assert model_choices({**tuned, "oos": {"source": "cv"}}) == [
        "MiniLM fine-tuned (4 epochs, 180.2 s): the out-of-fold figures read it after it had seen every fold, so "
        "they are optimistic; choose the out-of-scope thresholds on a validation file (fancare test nlu --val)"]
    assert model_choices({**tuned, "oos_thresholds": {"source": "val"}})[0].endswith("so they are optimistic")
