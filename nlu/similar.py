"""Group near-identical fan messages ("where is my order??" and "where's my order") into one item.

Used by the report's top unanswered questions and by the review inbox. Exact repeats are merged
first on a normalised key (cheap, done on counts from SQL); the remaining distinct texts are merged
greedily by cosine similarity of their sentence embeddings, most frequent first, so a group is named
after its most common wording. Without an encoder, word-set overlap (Jaccard) stands in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Embed = Callable[[list[str]], np.ndarray]
_WORD = re.compile(r"\w+", re.UNICODE)


def normalise(text: str) -> str:
    """Key for exact-repeat merging: case, accents' composition, punctuation and spacing ignored."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_WORD.findall(text))


@dataclass
class Group:
    """One cluster: its most frequent wording, the total count and the other wordings."""

    text: str
    count: int
    members: list[tuple[str, int]] = field(default_factory=list)

    def as_dict(self, max_members: int = 5) -> dict[str, object]:
        return {"text": self.text, "count": self.count,
                "variants": [t for t, _ in self.members[1:max_members + 1]]}


def merge_exact(rows: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """Sum counts of texts with the same normalised key; keep the most frequent wording."""
    best: dict[str, tuple[str, int]] = {}
    total: dict[str, int] = {}
    for text, n in rows:
        key = normalise(text)
        if not key:
            continue
        total[key] = total.get(key, 0) + int(n)
        if key not in best or n > best[key][1]:
            best[key] = (text, int(n))
    return sorted(((best[k][0], total[k]) for k in best), key=lambda r: (-r[1], r[0]))


def _jaccard_matrix(texts: list[str]) -> np.ndarray:
    sets = [set(normalise(t).split()) for t in texts]
    n = len(sets)
    sim = np.zeros((n, n), dtype=np.float32)
    for i in range(n):
        for j in range(i, n):
            a, b = sets[i], sets[j]
            v = len(a & b) / len(a | b) if a | b else 0.0
            sim[i, j] = sim[j, i] = v
    return sim


def group_similar(rows: Iterable[tuple[str, int]], embed: Embed | None = None, threshold: float = 0.82,
                  jaccard_threshold: float = 0.6) -> list[Group]:
    """Cluster (text, count) rows; groups come back ordered by total count, largest first."""
    items = merge_exact(rows)
    if not items:
        return []
    texts = [t for t, _ in items]
    sim: np.ndarray[Any, Any]
    if embed is not None:
        vecs = np.asarray(embed(texts), dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        vecs = (vecs / np.where(norms == 0, 1.0, norms)).astype(np.float32)
        sim, cut = vecs @ vecs.T, threshold
    else:
        sim, cut = _jaccard_matrix(texts), jaccard_threshold
    owner = [-1] * len(items)
    groups: list[Group] = []
    for i, (text, _n) in enumerate(items):  # items are sorted by count: the first of a group names it
        if owner[i] >= 0:
            continue
        g = Group(text, 0)
        for j in range(i, len(items)):
            if owner[j] < 0 and sim[i, j] >= cut:
                owner[j] = len(groups)
                g.count += items[j][1]
                g.members.append(items[j])
        groups.append(g)
    return sorted(groups, key=lambda g: (-g.count, g.text))


def default_embedder(model_path: str | None = None) -> Embed | None:
    """The MiniLM query encoder the NLU already uses, or None when it cannot be loaded."""
    try:
        from nlu.encoders import get_encoder

        enc = get_encoder("minilm", model_path)
    except Exception:  # noqa: BLE001 - grouping falls back to word overlap
        return None
    return enc.encode_queries
