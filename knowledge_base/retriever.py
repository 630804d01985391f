"""Semantic FAQ retrieval. Reindexes by itself when an article file changes (no NLU retraining).

Scores are cosine similarities between the fan's message and each chunk (title, question variants,
body paragraphs); an article's score is its best chunk, with question variants counting fully and
body text slightly discounted (a body that mentions a word is weaker evidence than a question).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowledge_base.articles import Article, load_articles
from nlu.encoders import get_encoder

KIND_WEIGHT = {"question": 1.0, "title": 0.97, "body": 0.9}
# e5's cosine similarities live in a narrow band (unrelated texts score ~0.75-0.85), MiniLM's span
# 0..1. Scores are put on MiniLM's scale, (s - floor) / (1 - floor), so one threshold fits both.
SCORE_FLOOR = {"minilm": 0.0, "e5": 0.72}


@dataclass(frozen=True)
class Match:
    article: Article
    score: float
    chunk: str


class _Index:
    def __init__(self, articles: list[Article], encoder_name: str, cache: dict[tuple[str, str], np.ndarray],
                 encoder_path: str | None = None) -> None:
        enc = get_encoder(encoder_name, encoder_path)
        self.rows: list[tuple[int, str, str]] = []
        for ai, a in enumerate(articles):
            for kind, text in a.chunks():
                self.rows.append((ai, kind, text))
        missing = [(k, t) for _, k, t in self.rows if (encoder_name, k + "\0" + t) not in cache]
        q = [t for k, t in missing if k != "body"]
        p = [t for k, t in missing if k == "body"]
        for texts, fn, kinds in ((q, enc.encode_queries, ("question", "title")), (p, enc.encode_passages, ("body",))):
            if texts:
                X = fn(texts)
                it = iter(X)
                for k, t in missing:
                    if (k == "body") == (kinds == ("body",)):
                        cache[(encoder_name, k + "\0" + t)] = next(it)
        self.matrix = (np.vstack([cache[(encoder_name, k + "\0" + t)] for _, k, t in self.rows])
                       if self.rows else np.zeros((0, enc.dim), dtype=np.float32))
        self.weights = np.array([KIND_WEIGHT[k] for _, k, _ in self.rows], dtype=np.float32)


class KnowledgeBase:
    def __init__(self, directory: str | Path, check_every_s: float = 2.0,
                 encoder_paths: dict[str, str] | None = None, cache_file: str | Path | None = None) -> None:
        self.directory = Path(directory)
        self.default_language = "en"  # set by the app from `brand.default_language`
        self.cache_file = Path(cache_file) if cache_file else None
        self.check_every_s = check_every_s
        self.encoder_paths = encoder_paths or {}
        self._lock = threading.Lock()
        self._signature: tuple[tuple[str, float, int], ...] | None = None
        self._checked_at = 0.0
        self.articles: list[Article] = []
        self._indexes: dict[str, _Index] = {}
        self._cache: dict[tuple[str, str], np.ndarray] = {}
        self._load_cache()
        self.reload_if_changed(force=True)

    def _load_cache(self) -> None:
        """Chunk embeddings survive restarts, so start-up encodes only new or edited chunks."""
        if self.cache_file is None or not self.cache_file.exists():
            return
        try:
            with np.load(self.cache_file, allow_pickle=False) as z:
                for enc, key, vec in zip(z["encoders"], z["keys"], z["vecs"], strict=True):
                    self._cache[(str(enc), str(key))] = vec
        except Exception:  # noqa: BLE001 - a corrupt cache is rebuilt, never fatal
            self._cache = {}

    def _save_cache(self) -> None:
        if self.cache_file is None or not self._cache:
            return
        # every encoder's vectors of the chunks that still exist, not only the encoders indexed in this
        # process: a process that built MiniLM's index first must not drop e5's from the file
        live = {k + "\0" + t for a in self.articles for k, t in a.chunks()}
        items = [(k, v) for k, v in self._cache.items() if k[1] in live]
        if not items:
            return
        self.cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_file.with_name(self.cache_file.name + ".tmp.npz")
        np.savez(tmp, encoders=np.array([k[0] for k, _ in items]), keys=np.array([k[1] for k, _ in items]),
                 vecs=np.vstack([v for _, v in items]))
        tmp.replace(self.cache_file)

    def warm(self, encoders: list[str]) -> None:
        """Build (and cache) the index for each encoder now rather than on the first question."""
        for enc in encoders:
            self._index(enc)

    def _current_signature(self) -> tuple[tuple[str, float, int], ...]:
        return tuple(sorted((str(f.relative_to(self.directory)), f.stat().st_mtime, f.stat().st_size)
                            for f in self.directory.rglob("*.md")))

    def reload_if_changed(self, force: bool = False) -> bool:
        now = time.monotonic()
        if not force and now - self._checked_at < self.check_every_s:
            return False
        self._checked_at = now
        sig = self._current_signature()
        if sig == self._signature and not force:
            return False
        with self._lock:
            self.articles = load_articles(self.directory)
            self._indexes = {}
            self._signature = sig
        return True

    def _index(self, encoder_name: str) -> _Index:
        idx = self._indexes.get(encoder_name)
        if idx is None:
            with self._lock:
                idx = self._indexes.get(encoder_name)
                if idx is None:
                    before = len(self._cache)
                    idx = _Index(self.articles, encoder_name, self._cache, self.encoder_paths.get(encoder_name))
                    self._indexes[encoder_name] = idx
                    if len(self._cache) != before:
                        self._save_cache()
        return idx

    def in_language(self, article: Article, language: str | None) -> Article:
        """`article` (or its original) as the fan should read it: the translation in `language`, else in
        the brand's default language, else English, else `article` itself."""
        family = [a for a in self.articles if a.group == article.group]
        for lang in (language, self.default_language, "en"):
            if not lang or lang == "und":
                continue
            if article.language == lang:
                return article
            hit = next((a for a in family if a.language == lang), None)
            if hit is not None:
                return hit
        return article

    def search(self, text: str, *, encoder: str = "e5", embedding: np.ndarray | None = None,
               language: str | None = None, top_k: int = 3) -> list[Match]:
        """Best articles for `text`, one per article and its translations (a match on any of them counts),
        each given in the fan's language by `in_language`. Pass the message's embedding to avoid
        encoding it twice."""
        self.reload_if_changed()
        idx = self._index(encoder)
        if not idx.rows:
            return []
        if embedding is None:
            embedding = get_encoder(encoder, self.encoder_paths.get(encoder)).encode_queries([text])[0]
        floor = SCORE_FLOOR.get(encoder, 0.0)
        scores = ((idx.matrix @ embedding) - floor) / (1.0 - floor) * idx.weights
        best: dict[int, tuple[float, str]] = {}
        for (ai, _kind, chunk), s in zip(idx.rows, scores, strict=True):
            a = self.articles[ai]
            s = float(s)
            if language and a.language not in (language, "und") and language != "und":
                # prefer the fan's language among near-equal matches, then the brand's default language:
                # a French fan is better served by the English article than by its Spanish twin
                s -= 0.02 if a.language == self.default_language else 0.08
            if ai not in best or s > best[ai][0]:
                best[ai] = (s, chunk)
        groups: dict[str, tuple[int, float, str]] = {}
        for ai, (score, chunk) in best.items():
            g = self.articles[ai].group
            if g not in groups or score > groups[g][1]:
                groups[g] = (ai, score, chunk)
        ranked = sorted(groups.values(), key=lambda r: -r[1])[:top_k]
        return [Match(self.in_language(self.articles[ai], language), score, chunk) for ai, score, chunk in ranked]
