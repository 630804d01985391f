"""`python -m benchmarks.moderation [--data-dir ../shared/data] [--skip-quality] [--skip-crisis]`

Measures the moderation signals and the crisis early warning, and writes
`benchmarks/results/moderation.json`:

1. Quality on TweetEval (official val/test splits; sentiment is trained on the documented SemEval
   substitute, subsampled): offensive macro-F1, hate macro-F1, sentiment macro-recall, for the
   product's head code (`moderation.heads.SignalHead`) in four set-ups: MiniLM + LR (the reference
   point), TF-IDF only, the equal blend the product ships, and the blend with its weight and decision
   threshold tuned on the val split (it over-fits val; kept to show it).
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
# Sentiment is subsampled by default (seed 0) to keep a CPU-only run short; `--full` uses every tweet.
SENTIMENT_TRAIN_MAX = 4_000
SENTIMENT_TEST_MAX = 4_000


def _read(d: Path, text_file: str, label_file: str) -> tuple[list[str], list[str]]:
    texts = (d / text_file).read_text(encoding="utf-8").splitlines()
    labels = [x.strip() for x in (d / label_file).read_text(encoding="utf-8").splitlines()]
    return [t.strip() for t in texts[: len(labels)]], labels[: len(texts)]


def _sample(split: tuple[list[str], list[str]], n: int) -> tuple[list[str], list[str]]:
    if len(split[0]) <= n:
        return split
    idx = sorted(random.Random(0).sample(range(len(split[0])), n))
    return [split[0][i] for i in idx], [split[1][i] for i in idx]


def load_task(data: Path, task: str, full: bool = False) -> dict[str, tuple[list[str], list[str]]]:
    d = data / "tweeteval" / task
    _metric, tf, lf = TASKS[task]
    out = {"train": _read(d, tf, lf), "val": _read(d, "val_text.txt", "val_labels.txt"),
           "test": _read(d, "test_text.txt", "test_labels.txt")}
    if task == "sentiment" and not full:
        out["train"] = _sample(out["train"], SENTIMENT_TRAIN_MAX)
        out["test"] = _sample(out["test"], SENTIMENT_TEST_MAX)
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


def run_quality(data: Path, full: bool = False, only: list[str] | None = None) -> dict[str, Any]:
    from moderation.heads import SignalHead
    from moderation.normalize import normalize
    from moderation.train import TEXT_WEIGHTS

    enc = encoder()
    rows: list[dict[str, Any]] = []
    for task, (metric, _tf, _lf) in TASKS.items():
        if only and task not in only:
            continue
        splits = load_task(data, task, full)
        X = {k: embed(enc, v[0]) for k, v in splits.items()}
        N = {k: [normalize(t) for t in v[0]] for k, v in splits.items()}
        y = {k: v[1] for k, v in splits.items()}
        from moderation.heads import _metric

        variants = {
            "minilm_lr": dict(tune=False, text_weight=0.0),
            "tfidf_lr": dict(tune=False, text_weight=1.0),
            f"blend {TEXT_WEIGHTS[task]} (shipped)": dict(tune=False, text_weight=TEXT_WEIGHTS[task]),
            "blend tuned on val": dict(tune=True, text_weight=0.5),
        }
        for name, v in variants.items():
            t0 = time.perf_counter()
            head = SignalHead(task, metric=metric, text_weight=float(v["text_weight"]))  # type: ignore[arg-type]
            head.fit(N["train"], X["train"], y["train"],
                     dev=(N["val"], X["val"], y["val"]) if v["tune"] else None)
            pred = np.asarray(head.predict(N["test"], X["test"]))
            score = _metric(metric, np.asarray(y["test"]), pred)
            rows.append({"task": task, "metric": metric, "variant": name, "test": round(score, 4),
                         "test_split": "official" if task != "sentiment" or full else
                         f"random {SENTIMENT_TEST_MAX} of the official test (seed 0)",
                         "reference": REFERENCE[task], "goal": GOALS[task], "meets_goal": score >= GOALS[task],
                         "text_weight": head.text_weight, "train_n": len(y["train"]), "test_n": len(y["test"]),
                         "fit_s": round(time.perf_counter() - t0, 1)})
            print(f"{task:10s} {name:24s} {metric} {score:.4f}", flush=True)
    return {"rows": rows, "encoder_cache": {"hits": enc.hits, "misses": enc.misses}}


def run_latency(data: Path, n: int = 300) -> dict[str, Any]:
    """All signals of one message, one message at a time: on top of the NLU's embedding (what the
    pipeline adds), and including a fresh MiniLM pass (what a message costs if nothing is shared)."""
    from moderation.signals import SignalExtractor
    from moderation.train import train_heads_from_dir
    from nlu.encoders import get_encoder
    from nlu.model import clean_text

    enc = get_encoder("minilm")
    heads = train_heads_from_dir(REPO / "training_data" / "moderation", enc)
    extractor = SignalExtractor(heads)
    texts, _ = _read(data / "tweeteval" / "offensive", "test_text.txt", "test_labels.txt")
    texts = texts[:n]
    vecs = enc.encode_queries([clean_text(t) for t in texts])
    signals_only, with_encoder = [], []
    for i, t in enumerate(texts):
        t0 = time.perf_counter()
        extractor.extract(t, embedding=vecs[i], sender=f"u{i % 40}", chat="bench")
        signals_only.append(time.perf_counter() - t0)
    for i, t in enumerate(texts[:100]):
        t0 = time.perf_counter()
        vec = enc.encode_queries([clean_text(t)])[0]
        extractor.extract(t, embedding=vec, sender=f"u{i % 40}", chat="bench")
        with_encoder.append(time.perf_counter() - t0)
    return {"signals_on_shared_embedding": percentiles(signals_only[10:]),
            "signals_plus_minilm_pass": percentiles(with_encoder[5:]), "goal_p50_ms": 30.0,
            "load_avg_1min_after": os.getloadavg()[0]}


def run_crisis(seeds: int = 5) -> dict[str, Any]:
    """Two community sizes (6 and 20 messages a minute on average, 15% negative), default settings."""
    from moderation.crisis import simulate

    out: dict[str, Any] = {"rows": [], "by_volume": {}}
    for base in (6.0, 20.0):
        r = simulate(seeds=seeds, base_per_min=base)
        out["by_volume"][str(base)] = r
        for row in r["rows"]:
            out["rows"].append({"msgs_per_min": base, **row, "false_alarms_per_week": r["false_alarms_per_week"]})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks.moderation")
    p.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--skip-quality", action="store_true")
    p.add_argument("--skip-latency", action="store_true")
    p.add_argument("--skip-crisis", action="store_true")
    p.add_argument("--encode-only", action="store_true", help="fill the embedding cache and stop")
    p.add_argument("--full", action="store_true", help="sentiment: every train and test tweet (slow on CPU)")
    p.add_argument("--only", choices=list(TASKS), action="append", help="quality: only these tasks")
    args = p.parse_args(argv)
    if args.encode_only:
        enc = encoder()
        for task in TASKS:
            for split, (texts, _y) in load_task(args.data_dir, task, args.full).items():
                embed(enc, texts)
                print(task, split, "encoded", flush=True)
        return 0
    previous = RESULTS / "moderation.json"
    body: dict[str, Any] = {}
    if previous.exists():  # parts skipped this time keep their last measurement
        import json

        old = json.loads(previous.read_text())
        body = {k: old[k] for k in ("quality", "latency", "crisis") if k in old}
    if not args.skip_quality:
        kept = [r for r in body.get("quality", {}).get("rows", []) if args.only and r["task"] not in args.only]
        body["quality"] = run_quality(args.data_dir, args.full, args.only)
        body["quality"]["rows"] = kept + body["quality"]["rows"]
        print(table(body["quality"]["rows"], ["task", "metric", "variant", "test", "reference", "goal", "meets_goal"]))
    if not args.skip_latency:
        body["latency"] = run_latency(args.data_dir)
        lat = body["latency"]
        print("latency p50 ms: signals on the shared embedding {:.1f}, with a MiniLM pass {:.1f} (load {:.1f})".format(
            lat["signals_on_shared_embedding"]["p50_ms"], lat["signals_plus_minilm_pass"]["p50_ms"],
            lat["load_avg_1min_after"]))
    if not args.skip_crisis:
        body["crisis"] = run_crisis()
        print(table(body["crisis"]["rows"], list(body["crisis"]["rows"][0])))
    path = write_result("moderation", body)
    print("wrote", path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
