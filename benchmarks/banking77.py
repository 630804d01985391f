"""BANKING77 intent accuracy through fancare's own code.

- full: train on the 10,003 training texts, test on the 3,080 test texts, with `fancare test nlu
  --data test.csv --train train.csv --encoder ...` run in-process (`bot.cli.main`), one config file
  per variant;
- 10-shot: 10 training texts per intent drawn with seeds 0, 1, 2, `NLUModel.train` + `nlu.evaluate`,
  the mean of the three runs.

The fallback threshold is 0 here and fixed (`oos_thresholds: fixed`): BANKING77 has no
out-of-scope class, so any threshold could only turn answers into errors. Embeddings are served from `benchmarks/cache.py` after the first computation (identical vectors), so
"train s" below is the head fitting time; the encoders' own speed is measured once and reported apart.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import random
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import cache
from benchmarks.common import CACHE, RESULTS, Timer, table, write_config, write_result
from bot.cli import main as fancare
from nlu.evaluate import evaluate
from nlu.finetune import finetune_minilm
from nlu.model import NLUModel, clean_text
from nlu.training_data import Example, TrainingData

# name -> (encoder route, nlu config overrides)
# The first rows were measured before the nearest-example vote (nlu/knn.py) existed: `knn: false`.
FULL_VARIANTS: list[tuple[str, str, dict[str, Any]]] = [
    # rows without TF-IDF say `features: []`: it is on by default since issue 13's last change
    ("minilm C=10 (default head)", "minilm", {"knn": False, "features": []}),
    ("minilm C=100", "minilm", {"regularization": 100.0, "knn": False, "features": []}),
    ("minilm + tfidf", "minilm", {"features": ["tfidf"], "knn": False}),
    ("minilm C=100 + tfidf", "minilm", {"regularization": 100.0, "features": ["tfidf"], "knn": False}),
    ("minilm + tfidf w=0.5", "minilm", {"features": ["tfidf"], "tfidf_weight": 0.5, "knn": False}),
    ("minilm + kNN", "minilm", {"features": []}),
    ("minilm + tfidf + kNN", "minilm", {"features": ["tfidf"], "tfidf_weight": 0.5}),
    ("e5 (no kNN)", "e5", {"knn": False, "features": []}),
    ("e5 + kNN (shipped default: cascade at rest)", "e5", {"features": []}),  # before the English head was chosen
    ("e5 + tfidf + kNN", "e5", {"features": ["tfidf"], "tfidf_weight": 0.5}),
    ("cascade + kNN (English head by CV; no TF-IDF)", "cascade", {"features": []}),
    ("cascade + TF-IDF by CV + kNN (shipped defaults)", "cascade", {}),
]
FULL_E5_VARIANTS: list[tuple[str, str, dict[str, Any]]] = [  # with FANCARE_BENCH_E5=1 (13,000 e5 encodings)
    ("e5", "e5", {}),
    ("minilm+e5 (concatenated)", "minilm", {"features": ["e5"]}),
    ("minilm+e5 + tfidf", "minilm", {"features": ["e5", "tfidf"]}),
]
FEW_SHOT_VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("minilm", {"route": "minilm", "knn": False}),
    ("minilm + tfidf", {"route": "minilm", "features": ["tfidf"], "knn": False}),
    ("minilm fine-tuned", {"route": "minilm", "finetune": True, "knn": False}),
    ("minilm fine-tuned + tfidf", {"route": "minilm", "finetune": True, "features": ["tfidf"], "knn": False}),
    ("minilm + kNN", {"route": "minilm"}),
    ("e5 (no kNN)", {"route": "e5", "knn": False}),
    ("e5 + kNN (shipped default: cascade at rest)", {"route": "e5"}),  # before the English head was chosen
    ("e5 + tfidf + kNN", {"route": "e5", "features": ["tfidf"], "text_weight": 0.5}),
    ("cascade + kNN (English head by CV; no TF-IDF)", {"route": "cascade"}),
    ("cascade + TF-IDF by CV + kNN (shipped defaults)", {"route": "cascade", "features": ["tfidf"]}),
    # the shipped defaults with `nlu.finetune: true` and `finetune_epochs: 4` (BENCHMARKS.md section 2)
    ("cascade fine-tuned 4 epochs + TF-IDF by CV + kNN", {"route": "cascade", "features": ["tfidf"], "finetune": True,
                                                          "finetune_epochs": 4}),
]
# Measured when the machine allows (`--only banking77_10shot` with FANCARE_BENCH_E5=1): e5 encodes
# the 3,080 test texts at a fraction of MiniLM's speed.
FEW_SHOT_E5_VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("e5", {"route": "e5"}),
    ("minilm+e5 + tfidf", {"route": "minilm", "features": ["e5", "tfidf"]}),
    ("minilm fine-tuned+e5 + tfidf", {"route": "minilm", "finetune": True, "features": ["e5", "tfidf"]}),
]
SEEDS = (0, 1, 2)


def _read_csv(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [(r["text"], r["category"]) for r in csv.DictReader(f)]


def encoder_speed(data_dir: Path, n: int = 500) -> list[dict[str, Any]]:
    """Messages per second of each real encoder (no cache) on BANKING77 test texts, batches of 64."""
    from nlu.encoders import get_encoder

    texts = [clean_text(t) for t, _ in _read_csv(data_dir / "banking77" / "test.csv")[:n]]
    rows = []
    for name in ("minilm", "e5"):
        enc = get_encoder(name)
        inner = enc.inner if isinstance(enc, cache.CachingEncoder) else enc
        inner.encode_queries(texts[:64])  # warm-up
        with Timer() as t:
            inner.encode_queries(texts)
        rows.append({"encoder": name, "texts": len(texts), "seconds": round(t.seconds, 2),
                     "msg_per_s": round(len(texts) / t.seconds, 1)})
    return rows


def _selected(variants: list[Any]) -> list[Any]:
    """`FANCARE_BENCH_VARIANTS="name,name"` re-measures only those variants (the rest are kept)."""
    wanted = [w.strip() for w in os.environ.get("FANCARE_BENCH_VARIANTS", "").split(",") if w.strip()]
    return [v for v in variants if v[0] in wanted] if wanted else variants


def _kept_rows(name: str, measuring: set[str]) -> list[dict[str, Any]]:
    """Rows of an earlier run that this run does not re-measure (only when a subset is selected)."""
    path = RESULTS / f"{name}.json"
    if not os.environ.get("FANCARE_BENCH_VARIANTS") or not path.exists():
        return []
    return [r for r in json.loads(path.read_text())["variants"] if r["variant"] not in measuring]


def run_full(data_dir: Path, variants: list[tuple[str, str, dict[str, Any]]] | None = None) -> dict[str, Any]:
    cache.install(CACHE)
    train, test = data_dir / "banking77" / "train.csv", data_dir / "banking77" / "test.csv"
    if variants is None:
        variants = FULL_VARIANTS + (FULL_E5_VARIANTS if os.environ.get("FANCARE_BENCH_E5") else [])
    variants = _selected(variants)
    rows: list[dict[str, Any]] = _kept_rows("banking77_full", {v[0] for v in variants})
    with tempfile.TemporaryDirectory(prefix="fancare-bench-") as tmp:
        for name, route, nlu in variants:
            # BANKING77 has no out-of-scope class: a fallback would only turn answers into errors.
            cfg = write_config(Path(tmp) / name.replace(" ", "_").replace(":", "") / "config.yml",
                               {"fallback_threshold": 0.0, "oos_thresholds": "fixed", **nlu})
            out = cfg.parent / "report"
            buf = io.StringIO()
            with Timer() as t, contextlib.redirect_stdout(buf):
                rc = fancare(["test", "nlu", "--config", str(cfg), "--data", str(test), "--train", str(train),
                              "--encoder", route, "--out", str(out)])
            if rc != 0:
                raise RuntimeError(f"fancare test nlu failed for {name}: rc={rc}")
            report = json.loads((out / "report.json").read_text())
            rows.append({"variant": name, "accuracy": round(report["accuracy"], 4),
                         "macro_f1": round(report["macro_f1"], 4), "train_and_test_s": round(t.seconds, 1),
                         "config": {"encoder": route, **nlu}})
            print(f"  {name}: accuracy {report['accuracy']:.4f} ({t.seconds:.0f} s)", flush=True)
            write_result("banking77_full", _full_body(rows, train, test, None))
    body = _full_body(rows, train, test, encoder_speed(data_dir))
    write_result("banking77_full", body)
    return body


def _full_body(rows: list[dict[str, Any]], train: Path, test: Path,
               speed: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {"train_size": len(_read_csv(train)), "test_size": len(_read_csv(test)), "variants": rows,
            "encoder_speed": speed, "goal_accuracy": 0.94,
            "table": table(rows, ["variant", "accuracy", "macro_f1", "train_and_test_s"])}


def sample_shots(rows: list[tuple[str, str]], k: int, seed: int) -> TrainingData:
    by_label: dict[str, list[str]] = defaultdict(list)
    for text, label in rows:
        by_label[label].append(text)
    rng = random.Random(seed)
    examples = [Example(t, lab) for lab in sorted(by_label) for t in rng.sample(by_label[lab], k)]
    return TrainingData(examples)


def run_few_shot(data_dir: Path, variants: list[tuple[str, dict[str, Any]]] | None = None,
                 seeds: tuple[int, ...] = SEEDS, k: int = 10) -> dict[str, Any]:
    cache.install(CACHE)
    if variants is None:
        variants = FEW_SHOT_VARIANTS + (FEW_SHOT_E5_VARIANTS if os.environ.get("FANCARE_BENCH_E5") else [])
    variants = _selected(variants)
    body: dict[str, Any] = {}
    train_rows = _read_csv(data_dir / "banking77" / "train.csv")
    test = TrainingData([Example(t, lab) for t, lab in _read_csv(data_dir / "banking77" / "test.csv")])
    rows = _kept_rows("banking77_10shot", {v[0] for v in variants})
    # (seed, epochs) -> (encoder dir, fine-tune seconds): once per seed and number of epochs
    finetuned: dict[tuple[int, int], tuple[str, float]] = {}
    for name, opts in variants:
        accs, secs = [], []
        for seed in seeds:
            td = sample_shots(train_rows, k, seed)
            kwargs = dict(opts)
            extra_s = 0.0
            epochs = kwargs.pop("finetune_epochs", 1)
            if kwargs.pop("finetune", False):
                if (seed, epochs) not in finetuned:
                    texts, labels = td.texts_and_labels()
                    with Timer() as ft:
                        path = finetune_minilm([clean_text(x) for x in texts], labels, seed=seed, epochs=epochs)
                    finetuned[seed, epochs] = (str(path), ft.seconds)
                    print(f"  fine-tune seed {seed}, {epochs} epochs: {ft.seconds:.0f} s", flush=True)
                kwargs["encoder_paths"] = {"minilm": finetuned[seed, epochs][0]}
                extra_s = finetuned[seed, epochs][1]
            with Timer() as t:
                model = NLUModel.train(td, threshold=0.0, oos="fixed", seed=seed, **kwargs)
            report, _, _ = evaluate(model, test)
            accs.append(report["accuracy"])
            secs.append(t.seconds + extra_s)
            print(f"  {name} seed {seed}: accuracy {report['accuracy']:.4f} (train {t.seconds:.0f} s)", flush=True)
        rows.append({"variant": name, "accuracy_mean": round(float(np.mean(accs)), 4),
                     "accuracy_std": round(float(np.std(accs)), 4), "per_seed": [round(a, 4) for a in accs],
                     "train_s_median": round(float(np.median(secs)), 1), "options": opts})
        body = _few_shot_body(rows, k, seeds, len(test.examples))
        write_result("banking77_10shot", body)  # after every variant: a long run keeps what it measured
    return body


def _few_shot_body(rows: list[dict[str, Any]], k: int, seeds: tuple[int, ...], n_test: int) -> dict[str, Any]:
    return {"shots": k, "seeds": list(seeds), "test_size": n_test, "variants": rows, "goal_accuracy": 0.88,
            "table": table(rows, ["variant", "accuracy_mean", "accuracy_std", "train_s_median"])}
