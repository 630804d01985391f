"""`fancare train` compares before/after on the same folds and refuses to serve a worse model."""

from __future__ import annotations

import io
import json
from pathlib import Path

from bot.config import load_config
from bot.training import train_and_promote
from nlu.compare import fold_of
from nlu.readers import load_training_data, to_rasa_yaml
from nlu.training_data import Example, TrainingData
from tests.conftest import REPO, write_config

INTENTS = ("greet", "goodbye", "thanks", "order_status", "refund_request", "crisis")


def _subset(per_intent: int = 12) -> TrainingData:
    full = load_training_data([REPO / "training_data" / "nlu.yml"])
    out = TrainingData()
    for intent in INTENTS:
        out.examples.extend([e for e in full.examples if e.intent == intent][:per_intent])
    return out


def _config(tmp_path: Path, data: Path):
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'f.db'}", tmp_path / "models",
                        nlu={"training_data": [str(data)], "model_dir": str(tmp_path / "models"), "encoder": "minilm"})
    return load_config(path)


def test_folds_follow_the_text_not_the_position():
    assert fold_of("Where is my order?", 5) == fold_of("where is my order", 5)
    assert len({fold_of(f"text {i}", 5) for i in range(50)}) == 5


def test_worse_model_is_not_promoted_unless_forced(tmp_path):
    data = tmp_path / "training_data"
    data.mkdir()
    good = _subset()
    (data / "nlu.yml").write_text(to_rasa_yaml(good))
    cfg = _config(tmp_path, data)
    first = train_and_promote(cfg, folds=3, out=io.StringIO())
    assert first.promoted and first.comparison is None
    latest = (tmp_path / "models" / "LATEST").read_text().strip()
    assert latest == first.model.version and (first.path / "training_data.yml").exists()

    # A careless labelling session: half of the order questions filed as greetings.
    bad = TrainingData([Example(e.text, "greet") if e.intent == "order_status" and i % 2 == 0 else e
                        for i, e in enumerate(good.examples)])
    (data / "nlu.yml").write_text(to_rasa_yaml(bad))
    out = io.StringIO()
    second = train_and_promote(cfg, folds=3, out=out)
    report = out.getvalue()
    assert not second.promoted and second.comparison is not None and second.comparison.worse
    assert (tmp_path / "models" / "LATEST").read_text().strip() == latest  # still the old model
    assert "macro-F1" in report and "order_status" in report and "flipped" in report
    c = second.comparison
    assert c.after["macro_f1"] < c.before["macro_f1"]
    assert c.per_intent["order_status"]["delta"] < 0
    assert any(f["before"] == "order_status" and f["after"] == "greet" for f in c.flips)
    saved = json.loads((second.path / "comparison.json").read_text())
    assert saved["worse"] is True and saved["before"]["n"] == saved["after"]["n"] == len(good.examples)

    forced = train_and_promote(cfg, force=True, folds=3, out=io.StringIO())
    assert forced.promoted
    assert (tmp_path / "models" / "LATEST").read_text().strip() == forced.model.version


def test_better_data_is_promoted_with_a_report(tmp_path):
    data = tmp_path / "training_data"
    data.mkdir()
    small = _subset(6)
    (data / "nlu.yml").write_text(to_rasa_yaml(small))
    cfg = _config(tmp_path, data)
    train_and_promote(cfg, folds=3, out=io.StringIO())
    (data / "nlu.yml").write_text(to_rasa_yaml(_subset(14)))
    out = io.StringIO()
    res = train_and_promote(cfg, folds=3, out=out)
    assert res.comparison is not None
    assert res.promoted == (not res.comparison.worse)
    assert f"examples  {len(small.examples)} -> {6 * 14}" in out.getvalue()
