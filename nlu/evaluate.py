"""`fancare test nlu`: accuracy, macro-F1, per-intent scores, out-of-scope handling, confusion matrix."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from nlu.entity_eval import evaluate_entities, format_entity_table
from nlu.model import OUT_OF_SCOPE, NLUModel
from nlu.training_data import TrainingData


def score(true: list[str], pred: list[str]) -> dict[str, Any]:
    labels = sorted(set(true) | set(pred))
    p, r, f, s = precision_recall_fscore_support(true, pred, labels=labels, zero_division=0)
    true_labels = sorted(set(true))
    report: dict[str, Any] = {
        "n": len(true),
        "accuracy": float(accuracy_score(true, pred)),
        "macro_f1": float(f1_score(true, pred, labels=true_labels, average="macro", zero_division=0)),
        "per_intent": {lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                       for i, lab in enumerate(labels) if s[i] > 0 or lab in true_labels},
    }
    if OUT_OF_SCOPE in true:
        ins = [(t, q) for t, q in zip(true, pred, strict=True) if t != OUT_OF_SCOPE]
        oos = [(t, q) for t, q in zip(true, pred, strict=True) if t == OUT_OF_SCOPE]
        report["in_scope_accuracy"] = float(np.mean([t == q for t, q in ins])) if ins else None
        report["oos_recall"] = float(np.mean([q == OUT_OF_SCOPE for _, q in oos])) if oos else None
    return report


def by_language(true: list[str], pred: list[str], languages: list[str]) -> dict[str, dict[str, Any]]:
    """Accuracy and macro-F1 per language: where a trainer should add examples or translations (the
    test data carries no language labels, so each message counts under its detected language)."""
    out: dict[str, dict[str, Any]] = {}
    for lang in sorted(set(languages)):
        idx = [i for i, code in enumerate(languages) if code == lang]
        t, q = [true[i] for i in idx], [pred[i] for i in idx]
        out[lang] = {"n": len(idx), "accuracy": float(accuracy_score(t, q)),
                     "macro_f1": float(f1_score(t, q, labels=sorted(set(t)), average="macro", zero_division=0))}
    return out


def _languages(texts: list[str]) -> list[str]:
    """Each text's language by the identifier the pipeline uses (the brand's configured languages)."""
    from nlu.language import detect_language

    return [detect_language(t)[0] for t in texts]


def evaluate(model: NLUModel, td: TrainingData) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    texts, true = td.texts_and_labels()
    results = model.parse_many(texts)
    pred = [r.intent for r in results]
    errors = [{"text": t, "intent": y, "predicted": r.intent, "confidence": round(r.confidence, 4)}
              for t, y, r in zip(texts, true, results, strict=True) if y != r.intent]
    report = score(true, pred)
    report["per_language"] = by_language(true, pred, _languages(texts))
    if any(ex.entities for ex in td.examples):  # annotated test data: entity scores too
        entities, entity_errors = evaluate_entities(model.extractor, td, [r.language for r in results])
        report["entities"] = {**entities, "errors": entity_errors}
    return report, errors, pred


def cross_validate(td: TrainingData, k: int, train: Callable[[TrainingData], NLUModel],
                   seed: int = 0) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    texts, labels = td.texts_and_labels()
    y = np.asarray(labels)
    _, counts = np.unique(y, return_counts=True)
    k = max(2, min(k, int(counts.min())))
    pred = [""] * len(texts)
    errors: list[dict[str, Any]] = []
    for tr, te in StratifiedKFold(k, shuffle=True, random_state=seed).split(texts, y):
        part = TrainingData([td.examples[i] for i in tr], td.synonyms, td.regexes, td.lookups)
        model = train(part)
        res = model.parse_many([texts[i] for i in te])
        for i, r in zip(te, res, strict=True):
            pred[i] = r.intent
            if r.intent != labels[i]:
                errors.append({"text": texts[i], "intent": labels[i], "predicted": r.intent,
                               "confidence": round(r.confidence, 4)})
    report = score(labels, pred)
    report["per_language"] = by_language(labels, pred, _languages(texts))
    report["folds"] = k
    return report, errors, pred


def write_report(out_dir: str | Path, report: dict[str, Any], errors: list[dict[str, Any]], true: list[str],
                 pred: list[str]) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    with (out / "errors.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["text", "intent", "predicted", "confidence"])
        w.writeheader()
        w.writerows(errors)
    _confusion_png(out / "confusion_matrix.png", true, pred)
    return out


def _confusion_png(path: Path, true: list[str], pred: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = sorted(set(true) | set(pred))
    cm = confusion_matrix(true, pred, labels=labels)
    size = max(6.0, 0.35 * len(labels) + 3)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7 if len(labels) > 30 else 9)
    ax.set_yticks(range(len(labels)), labels, fontsize=7 if len(labels) > 30 else 9)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if len(labels) <= 30:
        for i in range(len(labels)):
            for j in range(len(labels)):
                if cm[i, j]:
                    ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_title("NLU confusion matrix")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def format_table(report: dict[str, Any]) -> str:
    lines = [f"{'intent':<28} {'prec':>6} {'recall':>6} {'f1':>6} {'n':>5}"]
    for name, v in sorted(report["per_intent"].items()):
        lines.append(f"{name:<28} {v['precision']:6.3f} {v['recall']:6.3f} {v['f1']:6.3f} {v['support']:5d}")
    lines.append(f"accuracy {report['accuracy']:.4f}   macro-F1 {report['macro_f1']:.4f}   n={report['n']}")
    if report.get("in_scope_accuracy") is not None or report.get("oos_recall") is not None:
        lines.append(f"in-scope accuracy {report.get('in_scope_accuracy') or 0:.4f}   "
                     f"out-of-scope recall {report.get('oos_recall') or 0:.4f}")
    if len(report.get("per_language") or {}) > 1:
        lines.append(f"{'language (detected)':<28} {'acc':>6} {'mF1':>6} {'n':>5}")
        for lang, v in report["per_language"].items():
            lines.append(f"{lang:<28} {v['accuracy']:6.3f} {v['macro_f1']:6.3f} {v['n']:5d}")
    if report.get("entities"):
        lines.append(format_entity_table(report["entities"]))
    return "\n".join(lines)
