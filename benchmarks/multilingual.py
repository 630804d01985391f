"""Encoder choice for fan messages in 11 languages: train on the demo data (`training_data/`), test on
`benchmarks/data/multilingual_care.yml` with each routing, through `NLUModel.train` + `nlu.evaluate`.

Macro-F1 over all messages, English only and non-English only; per-message latency of
`NLUModel.parse` (one message at a time, real encoders, no cache: what a quiet channel sees).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import REPO, Timer, percentiles, table, write_result
from nlu.evaluate import evaluate, score
from nlu.model import NLUModel
from nlu.readers import load_training_data
from nlu.training_data import TrainingData

# The test file groups every intent's examples by language, 3 each, in this order.
LANGS = ("en", "es", "fr", "de", "pt", "it", "nl", "pl", "tr", "ru", "ar")
TEST_FILE = REPO / "benchmarks" / "data" / "multilingual_care.yml"
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("minilm", {"route": "minilm"}),
    ("e5", {"route": "e5"}),
    ("cascade", {"route": "cascade"}),
    ("cascade + tfidf", {"route": "cascade", "features": ["tfidf"]}),
]


def languages(td: TrainingData) -> list[str]:
    """The language of every test example, from its position within its intent."""
    seen: dict[str, int] = {}
    out = []
    for ex in td.examples:
        k = seen.get(ex.intent, 0)
        seen[ex.intent] = k + 1
        out.append(LANGS[k // 3] if k // 3 < len(LANGS) else "und")
    return out


def run_multilingual(data_dir: Path | None = None,
                     variants: list[tuple[str, dict[str, Any]]] | None = None) -> dict[str, Any]:
    train = load_training_data([REPO / "training_data"])
    test = load_training_data([TEST_FILE])
    texts, true = test.texts_and_labels()
    langs = languages(test)
    rows = []
    for name, opts in variants or VARIANTS:
        with Timer() as t:
            model = NLUModel.train(train, **opts)
        report, _, pred = evaluate(model, test)
        en = [i for i, lang in enumerate(langs) if lang == "en"]
        other = [i for i, lang in enumerate(langs) if lang != "en"]
        row: dict[str, Any] = {
            "variant": name, "macro_f1": round(report["macro_f1"], 4),
            "macro_f1_en": round(score([true[i] for i in en], [pred[i] for i in en])["macro_f1"], 4),
            "macro_f1_non_en": round(score([true[i] for i in other], [pred[i] for i in other])["macro_f1"], 4),
            "accuracy": round(report["accuracy"], 4), "train_s": round(t.seconds, 1),
        }
        row["per_language_accuracy"] = {
            lang: round(float(np.mean([pred[i] == true[i] for i, x in enumerate(langs) if x == lang])), 4)
            for lang in LANGS}
        if opts.get("route") == "cascade":
            routed = [model.route_for(x)[0] for x in texts]
            row["routing_correct"] = round(float(np.mean(
                [(r == "minilm") == (lang == "en") for r, lang in zip(routed, langs, strict=True)])), 4)
        lat = []
        for x in texts:  # one message at a time, as a quiet channel delivers them
            t0 = time.perf_counter()
            model.parse(x)
            lat.append(time.perf_counter() - t0)
        p = percentiles(lat)
        row.update(parse_p50_ms=round(p["p50_ms"], 1), parse_p99_ms=round(p["p99_ms"], 1))
        rows.append(row)
        print(f"  {name}: macro-F1 {row['macro_f1']:.4f} (en {row['macro_f1_en']:.4f}, "
              f"other {row['macro_f1_non_en']:.4f}), parse p50 {row['parse_p50_ms']} ms", flush=True)
    body = {"train_examples": len(train.examples), "test_examples": len(texts), "languages": list(LANGS),
            "variants": rows,
            "table": table(rows, ["variant", "macro_f1", "macro_f1_en", "macro_f1_non_en", "accuracy",
                                  "parse_p50_ms", "parse_p99_ms", "train_s"])}
    write_result("multilingual", body)
    return body
