"""`python -m benchmarks.moderation [--data-dir ../shared/data] [--skip-quality] [--skip-crisis]`

Measures the moderation signals and the crisis early warning, and writes
`benchmarks/results/moderation.json`:

1. Quality on TweetEval (official val/test splits; sentiment is trained on the documented SemEval
   substitute, subsampled): offensive macro-F1, hate macro-F1, sentiment macro-recall, for the
   product's head code (`moderation.heads.SignalHead`) in three set-ups: MiniLM + LR (the reference
   point), TF-IDF only, and the tuned blend the product ships.
2. Latency: all signals of one message together (one MiniLM pass, three heads, spam/PII/flood rules,
   language), p50/p90 over real test tweets, one at a time, as the pipeline does.
3. Crisis: a synthetic week per seed (daily seasonality, noise) with injected incidents of several
   sizes; detection delay and false alarms per week for `moderation.crisis.CrisisMonitor`.

TweetEval has no licence file: it is used here to measure, never shipped in the product model.
Embeddings are cached on disk (benchmarks/results/cache-moderation/) so reruns are fast; the cached
vector is exactly what the encoder returned.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from benchmarks.common import REPO, RESULTS, percentiles, table, write_result  # noqa: E402

CACHE_DIR = RESULTS / "cache-moderation"
TASKS = {"offensive": ("macro_f1", "train_text.txt", "train_labels.txt"),
         "hate": ("macro_f1", "train_text.txt", "train_labels.txt"),
         "sentiment": ("macro_recall", "train_semeval_substitute_text.txt", "train_semeval_substitute_labels.txt")}
GOALS = {"offensive": 0.80, "hate": 0.56, "sentiment": 0.70}
REFERENCE = {"offensive": 0.72, "hate": 0.49, "sentiment": 0.66}
SENTIMENT_TRAIN_MAX = 8_000


def _read(d: Path, text_file: str, label_file: str) -> tuple[list[str], list[str]]:
    texts = (d / text_file).read_text(encoding="utf-8").splitlines()
    labels = [x.strip() for x in (d / label_file).read_text(encoding="utf-8").splitlines()]
    return [t.strip() for t in texts[: len(labels)]], labels[: len(texts)]


def load_task(data: Path, task: str) -> dict[str, tuple[list[str], list[str]]]:
    d = data / "tweeteval" / task
    _metric, tf, lf = TASKS[task]
    out = {"train": _read(d, tf, lf), "val": _read(d, "val_text.txt", "val_labels.txt"),
           "test": _read(d, "test_text.txt", "test_labels.txt")}
    if task == "sentiment" and len(out["train"][0]) > SENTIMENT_TRAIN_MAX:
        idx = sorted(random.Random(0).sample(range(len(out["train"][0])), SENTIMENT_TRAIN_MAX))
        out["train"] = ([out["train"][0][i] for i in idx], [out["train"][1][i] for i in idx])
    return out


def encoder() -> Any:
    from benchmarks.cache import CachingEncoder
    from nlu.encoders import get_encoder

    return CachingEncoder(get_encoder("minilm"), CACHE_DIR)


def embed(enc: Any, texts: list[str]) -> np.ndarray:
    from nlu.model import clean_text

    out = []
    for i in range(0, len(texts), 2000):  # chunks: the cache is saved as it grows
        out.append(enc.encode_queries([clean_text(t) for t in texts[i: i + 2000]]))
    return np.vstack(out)


def run_quality(data: Path) -> dict[str, Any]:
    from moderation.heads import SignalHead
    from moderation.normalize import normalize

    enc = encoder()
    rows: list[dict[str, Any]] = []
    for task, (metric, _tf, _lf) in TASKS.items():
        splits = load_task(data, task)
        X = {k: embed(enc, v[0]) for k, v in splits.items()}
        N = {k: [normalize(t) for t in v[0]] for k, v in splits.items()}
        y = {k: v[1] for k, v in splits.items()}
        from moderation.heads import _metric

        variants = {
            "minilm_lr": dict(tune=False, text_weight=0.0),
            "tfidf_lr": dict(tune=False, text_weight=1.0),
            "blend_tuned (shipped)": dict(tune=True, text_weight=0.5),
        }
        for name, v in variants.items():
            t0 = time.perf_counter()
            head = SignalHead(task, metric=metric, text_weight=float(v["text_weight"]))  # type: ignore[arg-type]
            head.fit(N["train"], X["train"], y["train"],
                     dev=(N["val"], X["val"], y["val"]) if v["tune"] else None)
            pred = np.asarray(head.predict(N["test"], X["test"]))
            score = _metric(metric, np.asarray(y["test"]), pred)
            rows.append({"task": task, "metric": metric, "variant": name, "test": round(score, 4),
                         "reference": REFERENCE[task], "goal": GOALS[task], "meets_goal": score >= GOALS[task],
                         "text_weight": head.text_weight, "train_n": len(y["train"]), "test_n": len(y["test"]),
                         "fit_s": round(time.perf_counter() - t0, 1)})
            print(f"{task:10s} {name:24s} {metric} {score:.4f}", flush=True)
    return {"rows": rows, "encoder_cache": {"hits": enc.hits, "misses": enc.misses}}


def run_latency(data: Path, n: int = 300) -> dict[str, Any]:
    """All signals of one message, one message at a time (a fresh MiniLM pass each: no cache)."""
    from moderation.signals import SignalExtractor
    from moderation.train import train_heads_from_dir
    from nlu.encoders import get_encoder
    from nlu.model import clean_text

    heads = train_heads_from_dir(REPO / "training_data" / "moderation", get_encoder("minilm"))
    extractor = SignalExtractor(heads)
    texts, _ = _read(data / "tweeteval" / "offensive", "test_text.txt", "test_labels.txt")
    enc = get_encoder("minilm")
    times = []
    for i, t in enumerate(texts[:n]):
        t0 = time.perf_counter()
        cleaned = clean_text(t)
        vec = enc.encode_queries([cleaned])[0]
        extractor.extract(t, embedding=vec, sender=f"u{i % 40}", chat="bench")
        times.append(time.perf_counter() - t0)
    return {"all_signals_per_message": percentiles(times[10:]), "goal_p50_ms": 30.0}


def run_crisis(seeds: int = 5) -> dict[str, Any]:
    from moderation.crisis import simulate

    return simulate(seeds=seeds)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks.moderation")
    p.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--skip-quality", action="store_true")
    p.add_argument("--skip-latency", action="store_true")
    p.add_argument("--skip-crisis", action="store_true")
    p.add_argument("--encode-only", action="store_true", help="fill the embedding cache and stop")
    args = p.parse_args(argv)
    if args.encode_only:
        enc = encoder()
        for task in TASKS:
            for split, (texts, _y) in load_task(args.data_dir, task).items():
                embed(enc, texts)
                print(task, split, "encoded", flush=True)
        return 0
    body: dict[str, Any] = {}
    if not args.skip_quality:
        body["quality"] = run_quality(args.data_dir)
        print(table(body["quality"]["rows"], ["task", "metric", "variant", "test", "reference", "goal", "meets_goal"]))
    if not args.skip_latency:
        body["latency"] = run_latency(args.data_dir)
        print("latency (ms):", body["latency"]["all_signals_per_message"])
    if not args.skip_crisis:
        body["crisis"] = run_crisis()
        print(table(body["crisis"]["rows"], list(body["crisis"]["rows"][0])))
    path = write_result("moderation", body)
    print("wrote", path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
