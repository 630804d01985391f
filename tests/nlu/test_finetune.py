"""The contrastive MiniLM fine-tune: batches, what it learns, and how the model carries it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nlu.encoders import get_encoder
from nlu.finetune import auto_epochs, finetune_minilm, make_batches
from nlu.model import FINETUNED_DIR, NLUModel
from tests.nlu.test_features import DATA, _td


def test_batches_pair_each_example_with_another_of_its_intent() -> None:
    labels = ["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["lonely"]
    batches = make_batches(labels, batch_size=3, epochs=2, seed=1)
    pairs = [p for b in batches for p in b]
    assert len(pairs) == 2 * 12  # "lonely" has no partner and is left out
    assert all(labels[a] == labels[p] and a != p for a, p in pairs)
    first = batches[0]
    assert len({labels[a] for a, _ in first}) == len(first)  # interleaved: distinct intents per batch
    assert make_batches(labels, 3, 2, seed=1) == batches


def test_auto_epochs_give_small_data_more_passes_and_large_data_one() -> None:
    # about 3,000 (example, partner) pairs, at most 4 epochs: 10 examples per intent of BANKING77's 77
    # intents get 4, the demo's ~2,600 examples 2, CLINC150's 15,100 one
    assert [auto_epochs(n) for n in (1, 100, 770, 1000, 1001, 2617, 3000, 3001, 15_100)] == [4, 4, 4, 3, 3, 2, 1, 1, 1]


def test_auto_epochs_are_what_the_model_records(tmp_path: Path) -> None:
    td = _td()
    model = NLUModel.train(td, route="minilm", finetune=True, threshold=0.0, calibrate=False)
    assert model.meta["finetune_epochs"] == auto_epochs(len(td.examples)) == 4
    assert "finetune_epochs" not in NLUModel.train(td, route="minilm", threshold=0.0, calibrate=False).meta


def _separation(vectors: np.ndarray, labels: list[str]) -> float:
    sims = vectors @ vectors.T
    same = np.equal.outer(labels, labels) & ~np.eye(len(labels), dtype=bool)
    other = ~np.equal.outer(labels, labels)
    return float(sims[same].mean() - sims[other].mean())


def test_finetune_pulls_intents_apart(tmp_path: Path) -> None:
    texts, labels = _td().texts_and_labels()
    before = _separation(get_encoder("minilm").encode_queries(texts), labels)
    path = finetune_minilm(texts, labels, epochs=4, batch_size=6, lr=5e-5, out_dir=tmp_path / "ft")
    after = _separation(get_encoder("minilm", str(path)).encode_queries(texts), labels)
    assert after > before + 0.02


def test_finetuned_model_travels_with_its_encoder(tmp_path: Path) -> None:
    model = NLUModel.train(_td(), route="minilm", finetune=True, finetune_epochs=2, threshold=0.0, calibrate=False)
    assert model.meta["finetuned"] and model.meta["finetune_seconds"] > 0
    res = model.parse("has my card shipped yet")
    assert res.intent == "card_arrival"
    ft = get_encoder("minilm", model.encoder_paths["minilm"]).encode_queries(["has my card shipped yet"])[0]
    assert res.embedding is not None and np.allclose(res.embedding, ft, atol=1e-5)  # the fine-tuned space
    out = model.save(tmp_path / "models")
    assert (out / FINETUNED_DIR / "config.json").exists()
    assert model.encoder_paths["minilm"] == str(out / FINETUNED_DIR)
    moved = tmp_path / "elsewhere"
    (tmp_path / "models").rename(moved)  # the artifact refers to its encoder relatively
    loaded = NLUModel.load(moved)
    assert loaded.encoder_paths["minilm"] == str(moved / out.name / FINETUNED_DIR)
    again = loaded.parse("has my card shipped yet")
    assert again.intent == "card_arrival" and abs(again.confidence - res.confidence) < 1e-4
    assert set(DATA) == set(loaded.intents)
