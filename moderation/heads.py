"""Trained signal heads: sentiment, offensive, hate, on the NLU's own sentence embedding.

Each head averages two linear models whose errors differ: logistic regression on the shared
embedding (one encoder pass per message, already paid by the NLU) and logistic regression on
TF-IDF word + character n-grams of the *normalised* text (catches spelled-out slurs and leet that the
encoder smooths away). Classes are weighted (abuse is rare) and, given a dev split, the blend weight
and the decision rule (a threshold for binary heads, per-class offsets for sentiment) are tuned for
the metric that is reported: macro-F1 or macro-recall. The same code is trained on the product's
hand-written data by `fancare train` and on TweetEval by `benchmarks/moderation.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, recall_score


def _metric(name: str, y: np.ndarray, pred: np.ndarray) -> float:
    if name == "macro_recall":
        return float(recall_score(y, pred, average="macro", zero_division=0))
    return float(f1_score(y, pred, average="macro", zero_division=0))


@dataclass
class LinearSoftmax:
    """A fixed linear layer + softmax with sklearn's `predict_proba`: the head of a fine-tuned encoder
    (`moderation.finetune`), used in place of the logistic regression on the embedding."""

    weight: np.ndarray  # (classes, dim)
    bias: np.ndarray  # (classes,)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        z = np.asarray(X) @ np.asarray(self.weight).T + np.asarray(self.bias)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


@dataclass
class SignalHead:
    """One signal (e.g. "offensive": labels ["no", "yes"]; "sentiment": ["negative", "neutral", "positive"])."""

    name: str
    labels: list[str] = field(default_factory=list)
    metric: str = "macro_f1"
    C_emb: float = 1.0
    C_text: float = 4.0
    text_weight: float = 0.5
    offsets: np.ndarray | None = None  # log-prob offsets per class (decision rule tuned on dev)
    _emb: LogisticRegression | LinearSoftmax | None = None
    _text: LogisticRegression | None = None
    _word: TfidfVectorizer | None = None
    _char: TfidfVectorizer | None = None

    # -- features -----------------------------------------------------------------------------
    def _sparse(self, texts: Sequence[str], fit: bool = False) -> sparse.csr_matrix:
        if fit:
            self._word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1,
                                         token_pattern=r"(?u)\b\w+\b", max_features=200_000)
            self._char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2,
                                         max_features=300_000)
            return sparse.hstack([self._word.fit_transform(texts), self._char.fit_transform(texts)], format="csr")
        assert self._word is not None and self._char is not None
        return sparse.hstack([self._word.transform(texts), self._char.transform(texts)], format="csr")

    # -- training -----------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], X: np.ndarray | None, y: Sequence[str],
            dev: tuple[Sequence[str], np.ndarray | None, Sequence[str]] | None = None, seed: int = 0,
            emb_head: LinearSoftmax | None = None) -> SignalHead:
        """`texts` are normalised texts; `X` their embeddings (None: a TF-IDF-only head). `emb_head`:
        a fine-tuned encoder's own head (its classes in sorted label order) instead of training the
        logistic regression on `X`; then `X` may be None here and is needed only at `tune`/`predict`."""
        yy = np.asarray(y)
        self.labels = sorted(set(yy.tolist()))
        if len(self.labels) < 2:
            raise ValueError(f"head {self.name}: needs at least two classes")
        self._text = LogisticRegression(C=self.C_text, max_iter=3000, class_weight="balanced",
                                        random_state=seed).fit(self._sparse(texts, fit=True), yy)
        if emb_head is not None:
            if np.asarray(emb_head.weight).shape[0] != len(self.labels):
                raise ValueError(f"head {self.name}: the fine-tuned head has another number of classes")
            self._emb = emb_head
        elif X is not None:
            self._emb = LogisticRegression(C=self.C_emb, max_iter=3000, class_weight="balanced",
                                           random_state=seed).fit(X, yy)
        else:
            self._emb, self.text_weight = None, 1.0
        self.offsets = np.zeros(len(self.labels))
        if dev is not None:
            self.tune(*dev)
        return self

    def tune(self, texts: Sequence[str], X: np.ndarray | None, y: Sequence[str],
             weights: Sequence[float] | None = None) -> dict[str, float]:
        """Pick the blend weight (among `weights`, default a grid from 0 to 1) and the per-class offsets
        that maximise the head's metric on dev."""
        yy = np.asarray(y)
        pt = self._text_proba(texts)
        pe = self._emb_proba(X) if self._emb is not None and X is not None else None
        best = (-1.0, self.text_weight, np.zeros(len(self.labels)))
        weights = [1.0] if pe is None else list(weights or [0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0])
        grid = np.linspace(-1.5, 1.5, 31)
        for w in weights:
            p = pt if pe is None else w * pt + (1 - w) * pe
            logp = np.log(np.clip(p, 1e-9, 1))
            off = np.zeros(len(self.labels))
            for _ in range(2):  # coordinate ascent over classes (binary: a threshold on the odds)
                for k in range(1, len(self.labels)):
                    scores = []
                    for g in grid:
                        o = off.copy()
                        o[k] = g
                        scores.append(_metric(self.metric, yy, np.asarray(self.labels)[np.argmax(logp + o, 1)]))
                    off[k] = grid[int(np.argmax(scores))]
            score = _metric(self.metric, yy, np.asarray(self.labels)[np.argmax(logp + off, 1)])
            if score > best[0]:
                best = (score, w, off.copy())
        self.text_weight, self.offsets = best[1], best[2]
        return {"dev_" + self.metric: best[0], "text_weight": best[1]}

    # -- inference ----------------------------------------------------------------------------
    def _text_proba(self, texts: Sequence[str]) -> np.ndarray:
        assert self._text is not None, f"head {self.name} is not trained"
        return self._text.predict_proba(self._sparse(texts))

    def _emb_proba(self, X: np.ndarray) -> np.ndarray:
        assert self._emb is not None
        return self._emb.predict_proba(X)

    def predict_proba(self, texts: Sequence[str], X: np.ndarray | None) -> np.ndarray:
        """Blended, decision-adjusted probabilities (rows sum to 1) in `labels` order."""
        p = self._text_proba(texts)
        if self._emb is not None and X is not None and self.text_weight < 1.0:
            p = self.text_weight * p + (1 - self.text_weight) * self._emb_proba(X)
        if self.offsets is not None and np.any(self.offsets):
            q = p * np.exp(self.offsets)
            p = q / q.sum(axis=1, keepdims=True)
        return p

    def predict(self, texts: Sequence[str], X: np.ndarray | None) -> list[str]:
        p = self.predict_proba(texts, X)
        return [self.labels[i] for i in np.argmax(p, axis=1)]
