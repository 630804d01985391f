"""An embedding cache for benchmarks only: the encoders are the real ones, their outputs are kept on disk.

Why: the benchmarks train many heads (C values, feature sets, 3 seeds) on the same 13,000 BANKING77
texts. Encoding them with e5 takes minutes on 2 cores; encoding them once and serving every later
identical call from disk keeps the whole benchmark run under half an hour without changing a single
number (the cached vector is exactly the vector the encoder returned). The pipeline-latency benchmark
never uses it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from nlu.encoders import Encoder, get_encoder, install_encoder


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


class CachingEncoder:
    """Wraps a real encoder; keeps {sha1(text): vector} per (encoder, query|passage) in an .npz file."""

    def __init__(self, inner: Encoder, cache_dir: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.cache_dir = cache_dir
        self._mem: dict[str, dict[str, np.ndarray]] = {}
        self.hits = 0
        self.misses = 0

    def _file(self, kind: str) -> Path:
        return self.cache_dir / f"{self.name}-{kind}.npz"

    def _table(self, kind: str) -> dict[str, np.ndarray]:
        table = self._mem.get(kind)
        if table is None:
            table = {}
            f = self._file(kind)
            if f.exists():
                with np.load(f) as data:
                    table = dict(zip(data["keys"].tolist(), data["vecs"], strict=True))
            self._mem[kind] = table
        return table

    def _save(self, kind: str) -> None:
        table = self._mem[kind]
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._file(kind).with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(list(table)), vecs=np.stack(list(table.values())))
        tmp.replace(self._file(kind))

    def _encode(self, texts: list[str], kind: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        table = self._table(kind)
        keys = [_key(t) for t in texts]
        todo = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in table}.items())
        self.hits += len(texts) - len(todo)
        self.misses += len(todo)
        if todo:
            fn = self.inner.encode_queries if kind == "query" else self.inner.encode_passages
            vecs = fn([t for _, t in todo])
            for (k, _), v in zip(todo, vecs, strict=True):
                table[k] = np.asarray(v, dtype=np.float32)
            if len(todo) >= 50:
                self._save(kind)
        return np.stack([table[k] for k in keys]).astype(np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, "query")

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, "passage")


def install(cache_dir: Path, names: tuple[str, ...] = ("minilm", "e5")) -> dict[str, CachingEncoder]:
    """Put caching wrappers in front of the named (default-path) encoders, process-wide."""
    out: dict[str, CachingEncoder] = {}
    for name in names:
        real = get_encoder(name)
        wrapped = real if isinstance(real, CachingEncoder) else CachingEncoder(real, cache_dir)
        install_encoder(name, wrapped)
        out[name] = wrapped
    return out
