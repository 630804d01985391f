"""The crisis monitor: quiet nights and busy evenings stay quiet, storms alarm fast, with numbers and phrases."""

from __future__ import annotations

import numpy as np

from moderation.crisis import CrisisMonitor, binomial_z, simulate, synthetic_stream


def _steady(mon: CrisisMonitor, minutes: range, neg_per_min: float, seed: int = 0, others: int = 6) -> list:
    rng = np.random.default_rng(seed)
    alerts = []
    for m in minutes:
        n = int(rng.poisson(neg_per_min))
        alerts += mon.observe(m, count=n * others + 1, negatives=n)
    return alerts


def _feed(mon: CrisisMonitor, totals: np.ndarray, negs: np.ndarray, start: int = 0) -> list:
    alerts = []
    for i, (a, n) in enumerate(zip(totals, negs, strict=True)):
        alerts += mon.observe(start + i, count=int(a), negatives=int(n))
    return alerts


def test_steady_traffic_and_a_quiet_night_do_not_alarm():
    mon = CrisisMonitor(warmup_minutes=60)
    assert _steady(mon, range(0, 600), 2.0) == []
    # three angry messages at night (baseline ~0.1/min): below min_count, no alarm
    mon2 = CrisisMonitor(warmup_minutes=60)
    _steady(mon2, range(0, 300), 0.1)
    assert [a for m in range(300, 303) for a in mon2.observe(m, negative=True, text="refund now")] == []
    assert mon2.tick(310) == []


def test_busier_traffic_with_the_same_negative_share_does_not_alarm():
    """The evening rush triples every kind of message: a count baseline would alarm, the share does not."""
    rng = np.random.default_rng(3)
    mon = CrisisMonitor()
    rate = np.r_[np.full(240, 5.0), np.full(120, 15.0)]  # a sudden x3 in all traffic, 15% negative
    totals = rng.poisson(rate)
    negs = rng.binomial(totals, 0.15)
    assert _feed(mon, totals, negs) == []


def test_a_normal_synthetic_day_raises_no_alarm():
    totals, negs, incidents = synthetic_stream(11, days=2, base_per_min=20.0, sizes=())
    assert incidents == []
    assert _feed(CrisisMonitor(), totals, negs) == []


def test_a_3x_storm_on_the_synthetic_stream_alarms_within_10_minutes():
    """Two normal days, then at 19:00 on day 2 the negative rate triples for an hour."""
    rng = np.random.default_rng(5)
    totals, negs, _ = synthetic_stream(5, days=2, base_per_min=6.0, sizes=())
    start = 1440 + 19 * 60
    extra = rng.poisson(2 * negs[start - 60: start].mean(), size=60)  # + 2x the normal negatives per minute
    totals, negs = totals.copy(), negs.copy()
    totals[start: start + 60] += extra
    negs[start: start + 60] += extra
    mon = CrisisMonitor()
    alerts = _feed(mon, totals[: start + 60], negs[: start + 60])
    assert alerts, "no alert for a 3x storm"
    assert [a.at_minute for a in alerts if a.at_minute < start] == []
    first = alerts[0]
    assert first.at_minute - start + 1 <= 10
    assert 2.0 <= first.ratio and first.observed >= 8 and first.share_negative > first.baseline_share


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
    assert {x.key for x in alerts} == {"brand"}  # a channel first seen in the storm has no baseline yet
    assert any("battery exploded" in p for p, _ in a.top_phrases)
    assert a.examples and "[email]" in a.examples[0] and "@example.com" not in a.summary()
    assert "Crisis warning" in a.summary() and "normally 14%" in a.summary() and a.sparkline
    assert a.as_dict()["baseline_share"] == round(a.baseline_share, 3)
    assert list(mon.series["brand"].history)[-1][0] == a.at_minute  # the per-minute history stays available


def test_a_handful_of_messages_after_a_quiet_hour_still_alarms():
    """One message a minute, one in five negative; then twelve complaints in one minute."""
    mon = CrisisMonitor(warmup_minutes=30, min_count=5)
    for m in range(120):
        mon.observe(m, negative=m % 5 == 0)
    assert [a for _ in range(12) for a in mon.observe(120, negative=True, text="the update deleted my data")] == []
    alerts = mon.observe(121, text="hello")
    assert alerts and alerts[0].observed >= 12 and any("deleted" in p for p, _ in alerts[0].top_phrases)


def test_a_lasting_shift_is_learned_instead_of_alarming_all_day():
    """The negative share triples for good (say a new, stricter classifier): a few alerts, then quiet."""
    rng = np.random.default_rng(8)
    totals = rng.poisson(20.0, size=1440 * 2)
    negs = rng.binomial(totals, np.r_[np.full(1440, 0.08), np.full(1440, 0.24)])
    mon = CrisisMonitor()
    alerts = _feed(mon, totals, negs)
    assert alerts and alerts[0].at_minute >= 1440
    assert all(a.at_minute < 1440 + 6 * 60 for a in alerts), [a.at_minute for a in alerts]


def test_binomial_z_is_zero_at_the_baseline_and_grows_with_the_excess():
    assert binomial_z(15, 100, 0.15) == 0.0 and binomial_z(10, 100, 0.15) == 0.0
    zs = [binomial_z(x, 100, 0.15) for x in (20, 25, 30, 40)]
    assert zs == sorted(zs) and 1.0 < zs[0] < 2.0 and zs[-1] > 5
    assert binomial_z(5, 5, 0.2) > 3  # every message negative: defined, and large


def test_synthetic_week_benchmark_runs_and_reports():
    r = simulate(seeds=1, days=2, base_per_min=20.0, sizes=(5.0,), incidents_per_size=2, first_seed=100)
    row = r["rows"][0]
    assert row["incidents"] == 2 and row["detected"] == 2 and row["within_10_min"] == 2
    assert r["false_alarms_per_week"] <= 3.5 and r["seeds"] == "100-100"
