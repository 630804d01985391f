"""A TF-IDF word + character n-gram intent model, averaged with the embedding head (`nlu.features: [tfidf]`).

Why: sentence encoders smooth away the exact tokens that separate close intents ("card" vs "virtual
card", "top up" vs "transfer"); a sparse n-gram model sees them. Its errors are different from the
encoder's, so averaging the two probability vectors fixes some of each (see BENCHMARKS.md). It costs
about 0.3 ms per message on the direct path (`_decision`; BENCHMARKS.md section 19) and no extra model
download.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from scipy import sparse
from scipy.special import expit, softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from nlu.entities import lookup_pattern

#: up to this many texts per call take the direct path (`TfidfIntentModel._decision`): the pipeline's
#: single messages and two-request halves; larger batches go through scikit-learn
FAST_MAX_TEXTS = 8


class TfidfIntentModel:
    """Logistic regression on [word 1-2 grams | char_wb 2-5 grams] TF-IDF features.

    `names` (entity -> values, the lookup tables of the training data: product names) and
    `patterns` (entity -> regexes: order numbers, emails) are replaced by a placeholder ("_product_",
    "_email_") before the n-grams are counted. Which product a fan names says nothing about what
    they want, but an n-gram model learns it anyway when one intent's few examples happen to name
    it: with the demo's one crisis example about "the beam projector", "the picture from my beam
    projector is blurry" read as a crisis (0.69). An email address is worse: its character n-grams
    (".com", "@") are a spam link's, so a fan answering "which email did you order with?" with
    "ana@example.com" read as spam (0.96). The encoders keep the text as written."""

    def __init__(self, C: float = 20.0, seed: int = 0, names: dict[str, list[str]] | None = None,
                 patterns: dict[str, list[str]] | None = None) -> None:
        self.C = C
        self.seed = seed
        self.names = {k: list(v) for k, v in (names or {}).items()}
        self.patterns = {k: list(v) for k, v in (patterns or {}).items()}
        # regexes first: an email or order number is masked whole before a name inside it could be
        self._names = [(f"_{entity}_", re.compile(p, re.IGNORECASE))
                       for entity, ps in self.patterns.items() for p in ps]
        self._names += [(f"_{entity}_", lookup_pattern(values))
                        for entity, values in self.names.items() if any(v.strip() for v in values)]
        self.labels: list[str] = []
        self._word = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=1,
                                     lowercase=True, token_pattern=r"(?u)\b\w+\b")
        self._char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2,
                                     lowercase=True, max_features=200_000)
        self._lr: LogisticRegression | None = None
        self._fast: tuple[Any, ...] | None = None  # the direct path's tables (`_fast_tables`)

    def _masked(self, text: str) -> str:
        for token, rx in getattr(self, "_names", []):  # models saved before the names were masked have none
            text = rx.sub(token, text)
        return text

    def _features(self, texts: list[str], fit: bool = False) -> sparse.csr_matrix:
        texts = [self._masked(t) for t in texts]
        if fit:
            w = self._word.fit_transform(texts)
            c = self._char.fit_transform(texts)
        else:
            w = self._word.transform(texts)
            c = self._char.transform(texts)
        return sparse.hstack([w, c], format="csr")

    def fit(self, texts: list[str], labels: list[str]) -> TfidfIntentModel:
        X = self._features(texts, fit=True)
        self._lr = LogisticRegression(C=self.C, max_iter=3000, random_state=self.seed).fit(X, np.asarray(labels))
        self.labels = [str(c) for c in self._lr.classes_]
        self._fast = None
        return self

    def out_of_fold(self, texts: list[str], labels: list[str], folds: list[tuple[np.ndarray, np.ndarray]],
                    order: list[str]) -> np.ndarray:
        """Probabilities (columns in `order`) of every training text from a model fitted without its
        fold: the material for choosing the model's weight in the blend (`NLUModel.train`)."""
        out = np.zeros((len(texts), len(order)), dtype=np.float64)
        for tr, te in folds:
            part = TfidfIntentModel(self.C, self.seed, self.names, getattr(self, "patterns", {})).fit([texts[i] for i in tr], [labels[i] for i in tr])
            out[te] = part.predict_proba([texts[i] for i in te], order)
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_fast", None)  # analyzers are closures; rebuilt on first use after loading
        return state

    def _fast_tables(self) -> tuple[Any, ...]:
        fast = getattr(self, "_fast", None)
        if fast is None:
            assert self._lr is not None
            # per vectorizer: its analyzer, vocabulary, idf and first column in the stacked features
            parts = [(v.build_analyzer(), v.vocabulary_, np.asarray(v.idf_, dtype=np.float64), offset)
                     for v, offset in ((self._word, 0), (self._char, len(self._word.vocabulary_)))]
            fast = self._fast = (parts, np.asarray(self._lr.coef_, dtype=np.float64),
                                 np.asarray(self._lr.intercept_, dtype=np.float64))
        return fast

    def _decision(self, text: str) -> np.ndarray:
        """The logistic regression's decision values for one text, computed straight from the
        vectorizers' vocabularies and idf and the regression's weights: the same numbers as
        `TfidfVectorizer.transform` + `decision_function` (tests/nlu/test_features.py checks), without
        scikit-learn's per-call input validation, which cost about 3 ms of the 4 ms a message took."""
        parts, coef, intercept = self._fast_tables()
        z = intercept.copy()
        for analyzer, vocab, idf, offset in parts:
            counts: dict[int, int] = {}
            for gram in analyzer(text):
                j = vocab.get(gram)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            if counts:
                idx = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
                vals = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * idf[idx]
                norm = float(np.sqrt(vals @ vals))
                if norm > 0:
                    z += coef[:, offset + idx] @ (vals / norm)
        return z

    @staticmethod
    def _probabilities(z: np.ndarray) -> np.ndarray:
        """scikit-learn's `predict_proba` from decision values: softmax, or the logistic for two intents."""
        if z.shape[1] == 1:  # two intents: one decision value
            p1 = expit(z)
            return np.hstack([1.0 - p1, p1])
        return softmax(z, axis=1)

    def predict_proba(self, texts: list[str], labels: list[str] | None = None) -> np.ndarray:
        """Probabilities per text; columns follow `labels` when given (the embedding head's order)."""
        assert self._lr is not None, "TF-IDF model is not trained"
        if len(texts) > FAST_MAX_TEXTS:  # batches (training folds, evaluations): scikit-learn's sparse path
            p = self._lr.predict_proba(self._features(texts))
        else:
            p = self._probabilities(np.vstack([self._decision(self._masked(t)) for t in texts])
                                    if texts else np.zeros((0, len(self._lr.intercept_))))
        if labels is None or labels == self.labels:
            return p
        index = {lab: i for i, lab in enumerate(self.labels)}
        out = np.zeros((p.shape[0], len(labels)), dtype=p.dtype)
        for j, lab in enumerate(labels):
            if lab in index:
                out[:, j] = p[:, index[lab]]
        return out
