"""Nearest-example scores: how close a message is to the training examples of each intent.

Why: a logistic-regression head draws boundaries between the known intents and happily puts a
message that is far from all of them deep inside one region ("book me a flight" confidently becomes
`order_status`). The cosine similarity to the closest training example says how far the message is
from anything the brand taught, which is what out-of-scope detection needs, and a softmax over the
per-intent best similarities is a second opinion whose errors differ from the head's (blended in,
BENCHMARKS.md section 16). It costs one matrix-vector product over the normalised training
embeddings the model already computed: no second encoder pass.
"""

from __future__ import annotations

import numpy as np


class NearestExamples:
    """Normalised training embeddings grouped by intent (rows sorted by intent, one block each)."""

    def __init__(self, X: np.ndarray, y: list[str], labels: list[str]) -> None:
        index = {lab: i for i, lab in enumerate(labels)}
        target = np.array([index[v] for v in y])
        order = np.argsort(target, kind="stable")
        X = np.asarray(X, dtype=np.float32)[order]
        self.vectors = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        self.target = target[order]
        self.labels = list(labels)
        counts = np.bincount(self.target, minlength=len(labels))
        if (counts == 0).any():
            missing = [labels[i] for i in np.flatnonzero(counts == 0)]
            raise ValueError(f"no training example for intents {missing}")
        self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]])

    def class_similarity(self, Q: np.ndarray) -> np.ndarray:
        """(n, intents): the best cosine similarity of each query to each intent's examples."""
        Q = np.asarray(Q, dtype=np.float32)
        Q = Q / np.maximum(np.linalg.norm(Q, axis=1, keepdims=True), 1e-12)
        out = np.empty((len(Q), len(self.labels)), dtype=np.float32)
        for lo in range(0, len(Q), 1024):
            out[lo:lo + 1024] = np.maximum.reduceat(Q[lo:lo + 1024] @ self.vectors.T, self.starts, axis=1)
        return out


def similarity_probs(class_sim: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax over per-intent best similarities (sharper with a smaller temperature)."""
    z = class_sim / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
