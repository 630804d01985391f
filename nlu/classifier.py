"""Intent head: logistic regression on sentence embeddings, with temperature-calibrated confidence.

The temperature is fitted on out-of-fold predictions so that "0.8 confident" means right about
80% of the time, which is what makes the fallback threshold meaningful.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold


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

    def _new(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, max_iter=2000, random_state=self.seed)

    def fit(self, X: np.ndarray, y: list[str], calibrate: bool = True) -> IntentClassifier:
        y_arr = np.asarray(y)
        self.labels = sorted(set(y))
        if calibrate:
            self.temperature = self._fit_temperature(X, y_arr)
        self._lr = self._new().fit(X, y_arr)
        self.labels = [str(c) for c in self._lr.classes_]
        return self

    def _fit_temperature(self, X: np.ndarray, y: np.ndarray) -> float:
        _, counts = np.unique(y, return_counts=True)
        k = int(min(5 if len(y) < 3000 else 3, counts.min()))
        if k < 2:
            return 1.0
        logits = np.zeros((len(y), len(self.labels)), dtype=np.float64)
        index = {lab: i for i, lab in enumerate(self.labels)}
        for tr, te in StratifiedKFold(k, shuffle=True, random_state=self.seed).split(X, y):
            lr = self._new().fit(X[tr], y[tr])
            cols = [index[c] for c in lr.classes_]
            part = np.full((len(te), len(self.labels)), -1e4)
            part[:, cols] = lr.decision_function(X[te]) if len(lr.classes_) > 2 else _binary(lr, X[te])
            logits[te] = part
        target = np.array([index[v] for v in y])
        best_t, best_nll = 1.0, np.inf
        for t in np.exp(np.linspace(np.log(0.1), np.log(10), 60)):
            p = _softmax(logits / t)
            nll = -np.mean(np.log(np.clip(p[np.arange(len(y)), target], 1e-12, 1)))
            if nll < best_nll:
                best_t, best_nll = float(t), nll
        return best_t

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        assert self._lr is not None, "classifier is not trained"
        z = self._lr.decision_function(X) if len(self.labels) > 2 else _binary(self._lr, X)
        return _softmax(np.atleast_2d(z) / self.temperature)


def _binary(lr: LogisticRegression, X: np.ndarray) -> np.ndarray:
    d = lr.decision_function(X).reshape(-1, 1)
    return np.hstack([-d / 2, d / 2])
