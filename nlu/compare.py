"""What a retrain changed, before it is served: `fancare train` compares old data with new data.

Both data sets are cross-validated on the same folds: an example's fold is a hash of its normalised
text, so an example present before and after sits in the same fold and is predicted by a model that
never saw it, in both runs. Reported: accuracy and macro-F1 before and after, per-intent F1 deltas,
and the examples whose prediction flipped. The new model is "worse" when its cross-validated
macro-F1 drops by more than `tolerance`; `fancare train` then does not promote it unless forced.

The data a model was trained on is kept next to it (`<model>/training_data.yml`), which is what
"before" means at the next retrain. Embeddings are memoised for the comparison (every text is
encoded once across all folds and both runs), so it costs a few classifier fits, not 2k encodings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nlu.encoders import get_encoder, install_encoder
from nlu.evaluate import score
from nlu.model import NLUModel
from nlu.readers import read_rasa_yaml, to_rasa_yaml
from nlu.similar import normalise
from nlu.training_data import TrainingData

SNAPSHOT = "training_data.yml"


def save_snapshot(model_path: str | Path, td: TrainingData) -> Path:
    """Keep the training data with the model it trained (what the next comparison starts from)."""
    out = Path(model_path) / SNAPSHOT
    out.write_text(to_rasa_yaml(td), encoding="utf-8")
    return out


def current_model_dir(model_root: str | Path) -> Path | None:
    latest = Path(model_root) / "LATEST"
    if not latest.exists():
        return None
    p = Path(model_root) / latest.read_text().strip()
    return p if p.is_dir() else None


def load_snapshot(model_root: str | Path) -> TrainingData | None:
    cur = current_model_dir(model_root)
    if cur is None or not (cur / SNAPSHOT).exists():
        return None
    return read_rasa_yaml(cur / SNAPSHOT)


def fold_of(text: str, k: int) -> int:
    return int(hashlib.sha256(normalise(text).encode()).hexdigest()[:8], 16) % k


class _Memo:
    """An encoder that encodes each distinct text once (the comparison sees each text up to 2k times)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.cache: dict[str, np.ndarray] = {}

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if missing:
            for t, v in zip(missing, self.inner.encode_queries(missing), strict=True):
                self.cache[t] = v
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.cache[t] for t in texts])

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self.inner.encode_passages(texts)


@contextmanager
def memoised_encoders(names: list[str], paths: dict[str, str] | None = None) -> Iterator[None]:
    paths = paths or {}
    originals = {n: get_encoder(n, paths.get(n)) for n in names}
    for n, enc in originals.items():
        install_encoder(n, _Memo(enc), paths.get(n))  # type: ignore[arg-type]
    try:
        yield
    finally:
        for n, enc in originals.items():
            install_encoder(n, enc, paths.get(n))


@dataclass
class Comparison:
    folds: int
    before: dict[str, Any]
    after: dict[str, Any]
    per_intent: dict[str, dict[str, float | None]] = field(default_factory=dict)
    flips: list[dict[str, Any]] = field(default_factory=list)
    tolerance: float = 0.01

    @property
    def worse(self) -> bool:
        return self.after["macro_f1"] < self.before["macro_f1"] - self.tolerance

    def as_dict(self) -> dict[str, Any]:
        return {"folds": self.folds, "tolerance": self.tolerance, "worse": self.worse,
                "before": {k: self.before[k] for k in ("n", "accuracy", "macro_f1")},
                "after": {k: self.after[k] for k in ("n", "accuracy", "macro_f1")},
                "per_intent": self.per_intent, "flips": self.flips}


def _cv(td: TrainingData, k: int, train: Callable[[TrainingData], NLUModel]) -> list[str]:
    folds = [fold_of(e.text, k) for e in td.examples]
    pred = [""] * len(td.examples)
    for f in range(k):
        test = [i for i, x in enumerate(folds) if x == f]
        part = [e for e, x in zip(td.examples, folds, strict=True) if x != f]
        if not test or len({e.intent for e in part}) < 2:
            continue
        model = train(TrainingData(part, td.synonyms, td.regexes, td.lookups))
        for i, r in zip(test, model.parse_many([td.examples[i].text for i in test]), strict=True):
            pred[i] = r.intent
    return pred


def compare(old: TrainingData, new: TrainingData, train: Callable[[TrainingData], NLUModel], *, k: int = 5,
            tolerance: float = 0.01, max_flips: int = 50) -> Comparison:
    """Cross-validate `old` and `new` on the same hash folds and compare."""
    old_pred, new_pred = _cv(old, k, train), _cv(new, k, train)
    before = score([e.intent for e in old.examples], old_pred)
    after = score([e.intent for e in new.examples], new_pred)
    cmp = Comparison(k, before, after, tolerance=tolerance)
    for intent in sorted(set(before["per_intent"]) | set(after["per_intent"])):
        b = before["per_intent"].get(intent, {}).get("f1")
        a = after["per_intent"].get(intent, {}).get("f1")
        cmp.per_intent[intent] = {"before": b, "after": a,
                                  "delta": round(a - b, 4) if a is not None and b is not None else None}
    old_by_key = {normalise(e.text): p for e, p in zip(old.examples, old_pred, strict=True)}
    for e, p in zip(new.examples, new_pred, strict=True):
        q = old_by_key.get(normalise(e.text))
        if q is not None and q != p:
            cmp.flips.append({"text": e.text, "intent": e.intent, "before": q, "after": p,
                              "fixed": p == e.intent, "broken": q == e.intent})
    cmp.flips.sort(key=lambda f: (not f["broken"], f["text"]))
    cmp.flips = cmp.flips[:max_flips]
    return cmp


def format_comparison(c: Comparison) -> str:
    b, a = c.before, c.after
    lines = [f"cross-validated on {c.folds} folds (same folds before and after):",
             f"  accuracy  {b['accuracy']:.4f} -> {a['accuracy']:.4f} ({a['accuracy'] - b['accuracy']:+.4f})",
             f"  macro-F1  {b['macro_f1']:.4f} -> {a['macro_f1']:.4f} ({a['macro_f1'] - b['macro_f1']:+.4f})",
             f"  examples  {b['n']} -> {a['n']}"]
    changed = [(i, d) for i, d in c.per_intent.items() if d["delta"] is None or abs(d["delta"]) >= 0.005]
    if changed:
        lines.append("per-intent F1:")
        for intent, d in changed:
            before = "new" if d["before"] is None else f"{d['before']:.3f}"
            after = "gone" if d["after"] is None else f"{d['after']:.3f}"
            delta = "" if d["delta"] is None else f" ({d['delta']:+.3f})"
            lines.append(f"  {intent:<24} {before} -> {after}{delta}")
    if c.flips:
        lines.append(f"predictions that flipped ({len(c.flips)}):")
        for f in c.flips[:15]:
            mark = "fixed " if f["fixed"] else "BROKEN" if f["broken"] else "moved "
            lines.append(f"  {mark} {f['text'][:60]!r}: {f['before']} -> {f['after']} (label {f['intent']})")
    return "\n".join(lines)
