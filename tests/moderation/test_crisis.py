"""The crisis monitor: quiet nights stay quiet, storms alarm fast, with numbers and phrases."""

from __future__ import annotations

import numpy as np

from moderation.crisis import CrisisMonitor, simulate


def _steady(mon: CrisisMonitor, minutes: range, neg_per_min: float, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    alerts = []
    for m in minutes:
        n = int(rng.poisson(neg_per_min))
        alerts += mon.observe(m, count=n * 6 + 1, negatives=n)
    return alerts


def test_steady_traffic_and_a_quiet_night_do_not_alarm():
    mon = CrisisMonitor(warmup_minutes=60)
    assert _steady(mon, range(0, 600), 2.0) == []
    # three angry messages at night (baseline ~0.1/min): below min_count, no alarm
    mon2 = CrisisMonitor(warmup_minutes=60)
    _steady(mon2, range(0, 300), 0.1)
    assert [a for m in range(300, 303) for a in mon2.observe(m, negative=True, text="refund now")] == []


def test_a_storm_alarms_within_minutes_with_phrases_and_examples():
    mon = CrisisMonitor(warmup_minutes=60)
    _steady(mon, range(0, 300), 1.0)
    alerts = []
    for m in range(300, 320):
        for i in range(4):
            alerts += mon.observe(m, keys=("brand", "channel:telegram"), negative=True,
                                  text=f"battery exploded on my Pulse 3, mail me at fan{i}@example.com")
        if alerts:
            break
    assert alerts, "no alert for a 4x storm"
    a = alerts[0]
    assert a.at_minute - 300 <= 5 and a.ratio >= 2 and a.observed >= 8
    assert any("battery exploded" in p for p, _ in a.top_phrases)
    assert a.examples and "[email]" in a.examples[0] and "@example.com" not in a.summary()
    assert "Crisis warning" in a.summary() and a.sparkline


def test_synthetic_week_benchmark_runs_and_reports():
    r = simulate(seeds=1, days=2, base_per_min=20.0, sizes=(5.0,), incidents_per_size=2)
    row = r["rows"][0]
    assert row["incidents"] == 2 and row["detected"] >= 1
    assert r["false_alarms_per_week"] <= 3.5
