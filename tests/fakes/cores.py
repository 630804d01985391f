"""`nlu.threads: auto` on a machine whose load the test decides, for the tests of what it exports."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def auto_threads_on_a_quiet_machine(others_busy: float = 0.05) -> Iterator[None]:
    """Every e5 pass in this process adapts its threads (`nlu.threads: auto`) as if, between readings
    1 s apart, the rest of the machine kept `others_busy` of a core busy; whatever was set before (a CLI
    command run earlier in the process may have set `auto`) is put back afterwards."""
    from nlu.cores import IdleCores
    from nlu.encoders import adapt_pass_threads, pass_cores

    before = pass_cores()
    reads = iter(range(1, 1_000_000))

    def quiet_machine() -> tuple[float, float]:  # (busy core-seconds, wall seconds) since some start
        k = next(reads)
        return others_busy * k, float(k)

    adapt_pass_threads(IdleCores(ceiling=2, window_s=0.0, sample=quiet_machine))
    try:
        yield
    finally:
        adapt_pass_threads(before)
