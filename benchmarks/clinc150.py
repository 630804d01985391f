"""CLINC150 in-scope accuracy and out-of-scope recall, in the same run, through fancare's own code.

Train on `train.csv` (150 intents and 100 `out_of_scope` examples), choose the out-of-scope thresholds
on `val.csv` only, report `test.csv`: `fancare test nlu --train train.csv --val val.csv --data
test.csv --encoder ...` run in-process (`bot.cli.main`). The "cv" rows leave `--val` out: the
thresholds then come from cross-validation on the training data (nlu/oos.py), as for a brand's own
data. The "no kNN" and "fixed 0.40" rows (`NLUModel.train(knn=False)`) are the head as it was before
the nearest-example vote and distance. `encoder: cascade` is the shipped default: its e5 head serves
every language at rest, and English too unless cross-validation on the training data showed MiniLM's
head surer there (`NLUModel.english`; on CLINC150, all English, it does).

`python -m benchmarks.clinc150 [--data-dir ../shared/data] [--only "NAME;NAME"]`
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

from benchmarks import cache  # noqa: E402 - after the thread setting
from benchmarks.common import CACHE, Timer, table, write_config, write_result  # noqa: E402
from bot.cli import main as fancare  # noqa: E402
from nlu.evaluate import evaluate  # noqa: E402
from nlu.model import NLUModel  # noqa: E402
from nlu.readers import load_training_data  # noqa: E402

# name -> (encoder, nlu config overrides, thresholds: "val" | "cv" | "fixed", kNN on)
VARIANTS: list[tuple[str, str, dict[str, Any], str, bool]] = [
    # rows without TF-IDF say `features: []`: it is on by default since issue 13's last change
    ("e5, fixed 0.40, no kNN (before)", "e5", {"fallback_threshold": 0.4}, "fixed", False),
    ("e5, no kNN, val thresholds", "e5", {}, "val", False),
    ("e5 + kNN, val thresholds (cascade at rest before the English head)", "e5", {"features": []}, "val", True),
    ("e5 + kNN, cv thresholds (no val)", "e5", {"features": []}, "cv", True),
    ("cascade + kNN, val thresholds (no TF-IDF)", "cascade", {"features": []}, "val", True),
    ("cascade + kNN, cv thresholds (no val, no TF-IDF)", "cascade", {"features": []}, "cv", True),
    ("cascade + TF-IDF + kNN, val thresholds (shipped)", "cascade", {}, "val", True),
    ("cascade + TF-IDF + kNN, cv thresholds (no val, shipped)", "cascade", {}, "cv", True),
    # `nlu.finetune: true` (1 epoch at 15,100 examples: 7.5 min on 2 threads, about twice that on this
    # module's 1; BENCHMARKS.md section 16, session 26)
    ("cascade fine-tuned + TF-IDF + kNN, val thresholds", "cascade", {"finetune": True}, "val", True),
    ("minilm + kNN, val thresholds", "minilm", {"features": []}, "val", True),
    ("minilm + tfidf + kNN, val thresholds", "minilm", {"features": ["tfidf"]}, "val", True),
]


def run(data_dir: Path, only: list[str] | None = None) -> dict[str, Any]:
    cache.install(CACHE)
    d = data_dir / "clinc150"
    train, val, test = d / "train.csv", d / "val.csv", d / "test.csv"
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="fancare-clinc-") as tmp:
        for name, route, nlu, mode, knn in VARIANTS:
            if only and name not in only:
                continue
            with Timer() as t:
                if knn:
                    report = _cli(Path(tmp) / f"v{len(rows)}", route, nlu, train, test, val if mode == "val" else None)
                else:
                    report = _direct(route, nlu, mode, train, val, test)
            th = report["oos_thresholds"]
            rows.append({"variant": name, "in_scope_accuracy": round(report["in_scope_accuracy"], 4),
                         "oos_recall": round(report["oos_recall"], 4), "accuracy": round(report["accuracy"], 4),
                         "prob_threshold": round(th["prob"], 3), "similarity_threshold": round(th["similarity"], 3),
                         "knn_weight": report.get("knn_weight"), "train_and_test_s": round(t.seconds, 1),
                         "config": {"encoder": route, **nlu, "thresholds": mode, "knn": knn}})
            print(f"  {name}: in-scope {report['in_scope_accuracy']:.4f}  oos recall {report['oos_recall']:.4f}"
                  f"  ({t.seconds:.0f} s)", flush=True)
            write_result("clinc150", _body(rows))
    return _body(rows)


def _cli(work: Path, route: str, nlu: dict[str, Any], train: Path, test: Path, val: Path | None) -> dict[str, Any]:
    cfg = write_config(work / "config.yml", nlu)
    out = work / "report"
    args = ["test", "nlu", "--config", str(cfg), "--train", str(train), "--data", str(test),
            "--encoder", route, "--out", str(out)]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = fancare(args + (["--val", str(val)] if val else []))
    if rc != 0:
        raise RuntimeError(f"fancare test nlu failed: rc={rc}")
    report: dict[str, Any] = json.loads((out / "report.json").read_text())
    kw = report.get("knn_weight") or {}
    report["knn_weight"] = kw.get(route) if isinstance(kw, dict) else None
    return report


def _direct(route: str, nlu: dict[str, Any], mode: str, train: Path, val: Path, test: Path) -> dict[str, Any]:
    model = NLUModel.train(load_training_data([train]), route=route, knn=False,
                           threshold=nlu.get("fallback_threshold", 0.4), oos="fixed" if mode == "fixed" else "cv")
    if mode == "val":
        model.calibrate_oos(load_training_data([val]))
    report, _, _ = evaluate(model, load_training_data([test]))
    report["oos_thresholds"] = model.oos.as_dict()
    report["knn_weight"] = 0.0
    return report


def _body(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"goal": {"in_scope_accuracy": 0.96, "oos_recall": 0.85}, "variants": rows,
            "table": table(rows, ["variant", "in_scope_accuracy", "oos_recall", "prob_threshold",
                                  "similarity_threshold", "knn_weight", "train_and_test_s"])}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parent.parent.parent / "shared" / "data"))
    ap.add_argument("--only", default="", help="variant names separated by semicolons")
    a = ap.parse_args()
    body = run(Path(a.data_dir), [s.strip() for s in a.only.split(";") if s.strip()] or None)
    print(body["table"])
