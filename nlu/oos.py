"""Out-of-scope thresholds: when the NLU says "not understood" instead of its best guess.

A message falls back when the blended confidence of its best intent is below `prob`, or when it is
further than `similarity` (cosine) from every training example: the confidence alone cannot tell
"between two known intents" from "like nothing we know", the distance can (BENCHMARKS.md section 16).

The two thresholds are chosen on labelled examples, by one of three criteria:
- `recall_target` (default with a validation set): the highest in-scope accuracy among the
  thresholds whose out-of-scope recall reaches the target (0.85); when none does, the best sum of both;
- `balanced`: the best sum of in-scope accuracy and out-of-scope recall;
- `in_scope_loss` (the cross-validation default): the highest out-of-scope recall that costs at
  most `max_loss` (2 points) of in-scope accuracy against no threshold at all. Simulated unknown
  requests (below) are the hardest unknowns there are — the intent left out is the nearest
  neighbour of the ones kept — so a recall target measured on them would turn away many real
  questions; a bounded loss of understood messages is the safer promise for a brand's own data.

Where the examples come from (`choose_from_val` / `simulate_from_oof`):
- a validation set with `out_of_scope` rows (CLINC150's val), when one is given;
- otherwise the training data itself, by cross-validation: every example scored by a head that did
  not see it (the out-of-fold predictions the head's calibration already makes) is an in-scope
  example; the same example scored as if its intent did not exist (its intent's probability removed
  and renormalised, its intent's examples left out of the nearest-example similarity) is a simulated
  unknown request; examples of a trained `out_of_scope` intent count as out of scope as they are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

Criterion = Literal["recall_target", "balanced", "in_scope_loss"]
CRITERIA: tuple[str, ...] = ("recall_target", "balanced", "in_scope_loss")


@dataclass
class Thresholds:
    prob: float
    similarity: float = -1.0  # -1: distance never decides
    source: str = "fixed"  # fixed (config) | val | cv
    criterion: str = ""
    in_scope_accuracy: float | None = None  # on the examples the thresholds were chosen on
    oos_recall: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass
class Scored:
    """One row per example: best intent's confidence, best similarity, whether the best intent is
    right (in scope) or is itself `out_of_scope`, and whether the example is out of scope."""

    prob: np.ndarray
    similarity: np.ndarray
    correct: np.ndarray
    predicted_oos: np.ndarray
    is_oos: np.ndarray


SIMILARITY_MARGIN = 0.01


def choose(scored: Scored, criterion: str = "recall_target", recall_target: float = 0.85,
           source: str = "val", max_loss: float = 0.02) -> Thresholds:
    """Grid search over quantiles of both scores (plus "off").

    The similarity threshold must earn its place: it is used only when it beats the best
    confidence-only thresholds by `SIMILARITY_MARGIN` (1 point) on the criterion's main measure.
    Why: on CLINC150 the pair chosen on val's 100 out-of-scope examples gained 0.5 point on val and
    lost 3 points of recall on test (BENCHMARKS.md section 16); a second cut-off fitted to few
    examples overfits them."""
    with_sim = _grid(scored, criterion, recall_target, max_loss, use_similarity=True)
    alone = _grid(scored, criterion, recall_target, max_loss, use_similarity=False)
    better = with_sim[0][0] > alone[0][0] or with_sim[0][1] > alone[0][1] + SIMILARITY_MARGIN
    _, tp, ts, acc, rec = with_sim if better else alone
    return Thresholds(tp, ts, source, criterion, acc, rec)


def _grid(scored: Scored, criterion: str, recall_target: float, max_loss: float,
          use_similarity: bool) -> tuple[tuple[float, ...], float, float, float, float]:
    if criterion not in CRITERIA:
        raise ValueError(f"unknown out-of-scope criterion {criterion!r} (use {', '.join(CRITERIA)})")
    ins, oos = ~scored.is_oos, scored.is_oos
    if not ins.any() or not oos.any():
        raise ValueError("choosing out-of-scope thresholds needs in-scope and out-of-scope examples")
    qs = np.linspace(0, 1, 101)
    probs = np.unique(np.concatenate([[0.0], np.quantile(scored.prob, qs)]))
    sims = (np.unique(np.concatenate([[-1.0], np.quantile(scored.similarity, qs)])) if use_similarity
            else np.array([-1.0]))
    best: tuple[tuple[float, ...], float, float, float, float] | None = None
    no_threshold = float(np.mean((scored.correct & ~scored.predicted_oos)[ins]))
    for ts in sims:
        near = scored.similarity >= ts
        for tp in probs:
            kept = near & (scored.prob >= tp) & ~scored.predicted_oos
            acc = float(np.mean(kept[ins] & scored.correct[ins]))
            rec = float(np.mean(~kept[oos]))
            if criterion == "in_scope_loss":
                key: tuple[float, ...] = (float(acc >= no_threshold - max_loss - 1e-9), rec, acc)
            elif criterion == "recall_target" and rec >= recall_target:
                key = (1.0, acc, rec)
            else:
                key = (0.0, acc + rec, acc)
            if best is None or key > best[0]:
                best = (key, float(tp), float(ts), acc, rec)
    assert best is not None
    return best


def simulate_from_oof(probs: np.ndarray, sims: np.ndarray, target: np.ndarray, labels: list[str],
                      oos_label: str = "out_of_scope") -> Scored:
    """In-scope and simulated unknown examples from out-of-fold scores (see the module docstring)."""
    n = len(target)
    rows = np.arange(n)
    oos_col = labels.index(oos_label) if oos_label in labels else -1
    real_oos = target == oos_col
    known = ~real_oos
    pred = probs.argmax(axis=1)
    # the same examples as if their intent were unknown
    p_wo = probs.copy()
    p_wo[rows, target] = 0.0
    p_wo /= np.maximum(p_wo.sum(axis=1, keepdims=True), 1e-12)
    s_wo = sims.copy()
    s_wo[rows, target] = -1.0
    pred_wo = p_wo.argmax(axis=1)
    ins_prob, ins_sim = probs.max(axis=1)[known], sims.max(axis=1)[known]
    unk_prob = np.concatenate([p_wo.max(axis=1)[known], probs.max(axis=1)[real_oos]])
    unk_sim = np.concatenate([s_wo.max(axis=1)[known], sims.max(axis=1)[real_oos]])
    unk_pred_oos = np.concatenate([pred_wo[known] == oos_col, pred[real_oos] == oos_col])
    k, u = int(known.sum()), len(unk_prob)
    return Scored(prob=np.concatenate([ins_prob, unk_prob]), similarity=np.concatenate([ins_sim, unk_sim]),
                  correct=np.concatenate([pred[known] == target[known], np.zeros(u, dtype=bool)]),
                  predicted_oos=np.concatenate([pred[known] == oos_col, unk_pred_oos]),
                  is_oos=np.concatenate([np.zeros(k, dtype=bool), np.ones(u, dtype=bool)]))
