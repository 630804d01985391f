"""The multi-task moderation fine-tune: its batch schedule, and a model that loads as an encoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from moderation.finetune import finetune_multitask, make_schedule
from moderation.heads import SignalHead
from moderation.normalize import normalize
from moderation.train import load_examples
from nlu.encoders import get_encoder
from nlu.model import clean_text
from tests.conftest import REPO


def test_schedule_covers_each_task_once_per_epoch() -> None:
    sizes = {"offensive": 10, "sentiment": 25}
    lengths = {"offensive": list(range(10)), "sentiment": [(7 * i) % 25 for i in range(25)]}
    sched = make_schedule(sizes, batch_size=4, epochs=2, seed=3, lengths=lengths)
    for task, n in sizes.items():
        seen = sorted(i for t, b in sched if t == task for i in b)
        assert seen == sorted(list(range(n)) * 2) or len(seen) >= 2 * n - 2  # lone last items are dropped
    assert {t for t, _ in sched} == set(sizes)
    capped = make_schedule(sizes, batch_size=4, epochs=1, seed=3, max_per_task=8)
    assert sum(len(b) for t, b in capped if t == "sentiment") == 8
    assert make_schedule(sizes, 4, 2, seed=3, lengths=lengths) == sched


def _original_data(tmp_path: Path) -> Path:
    """The two original CC0 files (~170 rows, both classes early): the recipe, not the data size, is under test."""
    import shutil

    small = tmp_path / "data"
    small.mkdir(exist_ok=True)
    for name in ("sentiment.csv", "toxicity.csv"):
        shutil.copy(REPO / "training_data" / "moderation" / name, small / name)
    return small


def test_finetuned_encoder_feeds_the_signal_heads(tmp_path: Path) -> None:
    ex = load_examples(_original_data(tmp_path))
    tasks = {t: ([clean_text(x) for x, _ in ex[t][:48]], [y for _, y in ex[t][:48]]) for t in ("offensive", "sentiment")}
    path, stats = finetune_multitask(tasks, epochs=1, batch_size=8, out_dir=tmp_path / "ft")
    assert stats["steps"] == 12 and set(stats["heads"]) == {"offensive", "sentiment"}
    assert all(np.isfinite(v) for v in stats["final_loss"].values())
    enc = get_encoder("minilm", str(path))
    texts, labels = tasks["offensive"]
    X = enc.encode_queries(texts)
    assert X.shape == (len(texts), 384) and np.allclose(np.linalg.norm(X, axis=1), 1, atol=1e-4)
    head = SignalHead("offensive").fit([normalize(t) for t in texts], X, labels)
    assert head.predict([normalize("you are a worthless cretin")], enc.encode_queries(["you are a worthless cretin"])) == ["yes"]


def test_fancare_train_can_fine_tune_the_moderation_encoder(tmp_path: Path) -> None:
    """`moderation.finetune: true`: `fancare train` fine-tunes MiniLM on the CC0 data and the
    signals then read that encoder's own embedding (one more pass per message)."""
    from moderation.signals import OWN_ENCODER, ModerationHeads, SignalExtractor
    from moderation.train import train_and_save

    path, heads = train_and_save(_original_data(tmp_path), tmp_path, ["minilm"], finetune=True, finetune_epochs=1)
    assert heads.meta["finetune"]["steps"] > 0 and set(heads.by_encoder) == {"minilm", OWN_ENCODER}
    loaded = ModerationHeads.load(path)
    assert loaded is not None and loaded.meta["own_encoder_path"]
    sig = SignalExtractor(loaded).extract("you are a stupid worthless idiot", embedding=None, encoder=None)
    assert sig.source == "heads" and sig.offensive > 0.5
    text = "I love my new earbuds, thank you!"
    sig = SignalExtractor(loaded).extract(text, embedding=None, encoder="minilm")
    own = loaded.own_embedding(text)
    assert own is not None and sig.sentiment == "positive"
    expected = loaded.predict(normalize(text), OWN_ENCODER, own)["sentiment"]["positive"]
    assert abs(sig.positive - expected) < 1e-9  # scored by the fine-tuned encoder's heads
