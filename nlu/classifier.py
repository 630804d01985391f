"""Intent head: logistic regression on sentence embeddings, with temperature-calibrated confidence,
blended with a nearest-example vote.

The temperature is fitted on out-of-fold predictions so that "0.8 confident" means right about
80% of the time, which is what makes the fallback threshold meaningful. The same out-of-fold
predictions choose the weight of the nearest-example vote (nlu/knn.py; 0 when it does not help) and
are kept, until the model is saved, for choosing out-of-scope thresholds without a validation set
(nlu/oos.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from nlu.knn import NearestExamples, similarity_probs

if TYPE_CHECKING:  # sklearn (with scipy, ~95 MB) is imported where a head is fitted or unpickled, not here:
    # a receiver imports this module through the dialogs and loads no model (bot/lazy_nlu.py)
    from sklearn.linear_model import LogisticRegression

KNN_WEIGHTS = tuple(round(w, 2) for w in np.linspace(0.0, 1.0, 11))
KNN_TEMPERATURES = (0.01, 0.02, 0.05, 0.1)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class IntentClassifier:
    def __init__(self, C: float = 10.0, seed: int = 0) -> None:
        self.C = C
        self.seed = seed
        self.temperature = 1.0
        self.labels: list[str] = []
        self._lr: LogisticRegression | None = None
        self.knn: NearestExamples | None = None
        self.knn_weight = 0.0
        self.knn_temperature = 0.05
        self.blend_temperature = 1.0
        # out-of-fold (probabilities, per-intent best similarities, targets) of the last fit: the
        # material of threshold selection without a validation set; not saved with the model
        self.oof: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["oof"] = None
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        # heads pickled before the nearest-example vote existed load as a plain head
        self.__dict__.update({"knn": None, "knn_weight": 0.0, "knn_temperature": 0.05, "blend_temperature": 1.0, "oof": None})
        self.__dict__.update(state)

    def _new(self) -> LogisticRegression:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, max_iter=2000, random_state=self.seed)

    def fit(self, X: np.ndarray, y: list[str], calibrate: bool = True, knn: bool = True,
            fold_features: Callable[[np.ndarray], np.ndarray] | None = None) -> IntentClassifier:
        """`calibrate`: fit the temperature (and the nearest-example weight) on out-of-fold
        predictions; `knn`: keep the training embeddings for the nearest-example vote and the
        out-of-scope similarity (its weight stays 0 without `calibrate`).

        `fold_features(train_rows)`: when X itself was learnt from the training rows (an adapter,
        nlu/adapter.py), the features of every row as seen by one learnt from `train_rows` alone.
        Each fold then scores its held-out rows in such a space: otherwise the held-out rows would be
        ones the adapter had already pulled onto their intent, and the temperature fitted on them would
        make confidences too high on real messages. The nearest-example scores always come from the
        fold's training rows (`_fit_knn_weight`)."""
        y_arr = np.asarray(y)
        self.labels = sorted(set(y))
        oof_logits = oof_sims = None
        if calibrate:
            self.temperature, oof_logits, oof_sims = self._fit_temperature(X, y_arr, fold_features, knn)
        self._lr = self._new().fit(X, y_arr)
        self.labels = [str(c) for c in self._lr.classes_]
        self.knn = NearestExamples(X, list(y), self.labels) if knn else None
        self.knn_weight, self.blend_temperature, self.oof = 0.0, 1.0, None
        if self.knn is not None and oof_logits is not None:
            self._fit_knn_weight(list(y), oof_logits, oof_sims)
        return self

    def _fit_knn_weight(self, y: list[str], oof_logits: np.ndarray, sims: np.ndarray | None) -> None:
        """Choose the blend weight and similarity temperature by out-of-fold accuracy (ties: the
        smaller weight, i.e. the plain head), each example scored against its fold's training rows.

        The same folds as the head's logits (and the TF-IDF model's, `NLUModel.train`): scored
        leave-one-out instead, an example still meets its near-duplicates from its own fold, so the
        vote looked better out of fold than on new messages and every weight chosen after it (the
        TF-IDF share, the out-of-scope cuts) was chosen against an optimistic baseline (BANKING77:
        the TF-IDF share came out 0.2 where new messages wanted 0.4-0.5)."""
        assert self.knn is not None
        if sims is None:
            return
        index = {lab: i for i, lab in enumerate(self.labels)}
        target = np.array([index[v] for v in y])
        head = _softmax(oof_logits / self.temperature)
        best = (-1.0, 0.0, self.knn_temperature)
        for t in KNN_TEMPERATURES:
            kp = similarity_probs(sims, t)
            for w in KNN_WEIGHTS:
                acc = float(np.mean(np.argmax((1 - w) * head + w * kp, axis=1) == target))
                if acc > best[0] + 1e-9:
                    best = (acc, w, t)
        _, self.knn_weight, self.knn_temperature = best
        blended = (1 - self.knn_weight) * head + self.knn_weight * similarity_probs(sims, self.knn_temperature)
        # A blend chosen for accuracy is under-confident (a flat vote halves a sure head's 0.95): refit one
        # temperature on the blend's out-of-fold log-probabilities so that "0.8" again means right about
        # 8 times in 10, which thresholds such as a flow's `confidence_threshold: 0.9` rely on.
        self.blend_temperature = nll_temperature(np.log(np.clip(blended, 1e-12, 1)), target) if self.knn_weight else 1.0
        blended = self._sharpen(blended)
        self.oof = (blended, sims, target)

    def _sharpen(self, probs: np.ndarray) -> np.ndarray:
        if self.blend_temperature == 1.0:
            return probs
        return _softmax(np.log(np.clip(probs, 1e-12, 1)) / self.blend_temperature)

    def _fit_temperature(self, X: np.ndarray, y: np.ndarray,
                         fold_features: Callable[[np.ndarray], np.ndarray] | None = None, knn: bool = True
                         ) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        """(temperature, out-of-fold logits, out-of-fold per-intent similarities or None without
        `knn`)."""
        folds = cv_folds(y, self.seed)
        if not folds:
            return 1.0, None, None
        logits = np.zeros((len(y), len(self.labels)), dtype=np.float64)
        sims = np.zeros((len(y), len(self.labels)), dtype=np.float32) if knn else None
        index = {lab: i for i, lab in enumerate(self.labels)}
        for tr, te in folds:
            Xf = X if fold_features is None else fold_features(tr)
            lr = self._new().fit(Xf[tr], y[tr])
            cols = [index[c] for c in lr.classes_]
            part = np.full((len(te), len(self.labels)), -1e4)
            part[:, cols] = _logits(lr, Xf[te])
            logits[te] = part
            if sims is not None:  # k <= the smallest intent's count: every intent has training rows here
                sims[te] = NearestExamples(Xf[tr], [str(v) for v in y[tr]], self.labels).class_similarity(Xf[te])
        target = np.array([index[v] for v in y])
        return nll_temperature(logits, target), logits, sims

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.scores(X)[0]

    def scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(blended probabilities, best similarity to any training example) for each row of X;
        the similarity is 1.0 (never out of scope by distance) for a head without stored examples."""
        assert self._lr is not None, "classifier is not trained"
        X = np.atleast_2d(X)
        probs = _softmax(_logits(self._lr, X) / self.temperature)
        if self.knn is None:
            return probs, np.ones(len(X))
        sims = self.knn.class_similarity(X)
        if self.knn_weight > 0:
            probs = (1 - self.knn_weight) * probs + self.knn_weight * similarity_probs(sims, self.knn_temperature)
            probs = self._sharpen(probs)
        return probs, sims.max(axis=1).astype(np.float64)


def cv_folds(y: np.ndarray | list[str], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The folds of every out-of-fold score at training time (the heads' calibration, the TF-IDF
    model's weight): 5, or 3 above 3,000 examples, never more than the smallest intent has; [] when an
    intent has a single example. Stratified folds depend on the labels and the seed only, so every
    part of the model that asks gets the same ones and their out-of-fold scores can be blended."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y)
    _, counts = np.unique(y, return_counts=True)
    k = int(min(5 if len(y) < 3000 else 3, counts.min()))
    if k < 2:
        return []
    return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros((len(y), 1)), y))


def nll_temperature(logits: np.ndarray, target: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of `target` under softmax(logits / t)."""
    best_t, best_nll = 1.0, np.inf
    rows = np.arange(len(target))
    for t in np.exp(np.linspace(np.log(0.1), np.log(10), 60)):
        p = _softmax(logits / t)
        nll = -np.mean(np.log(np.clip(p[rows, target], 1e-12, 1)))
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def _logits(lr: LogisticRegression, X: np.ndarray) -> np.ndarray:
    """One logit per class: `decision_function`'s arithmetic without its per-call input checks (a
    millisecond a message on the hot path); a two-class model's single value becomes (-d/2, d/2)."""
    d = X @ lr.coef_.T + lr.intercept_
    return d if d.shape[1] > 1 else np.hstack([-d / 2, d / 2])
