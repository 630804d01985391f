"""Crisis early warning: is negative volume rising faster than this time of day explains?

Per key (the whole brand, and each channel) messages are counted per minute: all, negative (negative
sentiment, or a complaint / crisis intent), and recurring phrases of the negative ones. Every minute
the last `short` and `window` minutes are compared with a learned baseline:

- baseline rate: an EWMA of negatives per minute (half-life 30 min by default: it follows the daily
  rhythm, but a sudden storm cannot drag it up, because each minute enters it winsorised at the
  baseline + 3 sigma);
- robust z: 2 (sqrt(observed) - sqrt(expected)), a variance-stabilised score that is fair to small
  night-time counts and to large ones, divided by the key's over-dispersion (1.4826 x the median
  absolute deviation of recent residuals over the Poisson sd, at least 1: a noisy brand needs a
  bigger jump);
- alarm only with at least `min_count` negatives in the window and `ratio` x the expected count,
  so a quiet night never alarms on three angry messages; then a cooldown.

`simulate()` is the synthetic-stream benchmark (a normal week with daily seasonality and noise, plus
injected incidents), used by `benchmarks/moderation.py` and the tests.
"""

from __future__ import annotations

import math
import re
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

NEGATIVE_INTENTS = {"complaint", "crisis", "refund_request"}
_SPARK = "▁▂▃▄▅▆▇█"
_WORD = re.compile(r"[a-z][a-z']+")
_STOP = set("the a an and or to of in on for is are was my i you it this that with me your we our at be have has "
            "not no so just its it's i'm can do does from".split())


@dataclass
class Alert:
    key: str
    at_minute: int
    window_minutes: int
    observed: int
    expected: float
    z: float
    ratio: float
    share_negative: float
    top_phrases: list[tuple[str, int]] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    sparkline: str = ""

    def summary(self) -> str:
        phrases = ", ".join(f"“{p}” ({n})" for p, n in self.top_phrases[:5]) or "none"
        return (f"Crisis warning [{self.key}]: {self.observed} negative messages in the last {self.window_minutes} "
                f"min vs {self.expected:.1f} expected (x{self.ratio:.1f}, z={self.z:.1f}); negative share "
                f"{self.share_negative:.0%}. Last hours: {self.sparkline}. Top phrases: {phrases}.")

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "at_minute": self.at_minute, "window_minutes": self.window_minutes,
                "observed": self.observed, "expected": round(self.expected, 2), "z": round(self.z, 2),
                "ratio": round(self.ratio, 2), "share_negative": round(self.share_negative, 3),
                "top_phrases": self.top_phrases, "examples": self.examples, "sparkline": self.sparkline}


@dataclass
class _Series:
    """Per-key state: per-minute counts of the last hours, the baseline, recent residuals."""

    history: deque[tuple[int, int, int]] = field(default_factory=lambda: deque(maxlen=360))  # (minute, all, neg)
    phrases: deque[tuple[int, Counter[str]]] = field(default_factory=lambda: deque(maxlen=60))
    examples: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=20))
    rate: float | None = None  # EWMA of negatives per minute (winsorised)
    residuals: deque[float] = field(default_factory=lambda: deque(maxlen=240))
    minutes_seen: int = 0
    last_alert: int | None = None
    current: int | None = None
    cur_all: int = 0
    cur_neg: int = 0
    cur_phrases: Counter[str] = field(default_factory=Counter)


class CrisisMonitor:
    def __init__(self, *, window_minutes: int = 10, short_minutes: int = 5, extra_windows: tuple[int, ...] = (), half_life_minutes: float = 30.0,
                 z_threshold: float = 3.5, min_count: int = 8, ratio_threshold: float = 2.0,
                 cooldown_minutes: int = 60, warmup_minutes: int = 120) -> None:
        self.windows = sorted({short_minutes, window_minutes, *extra_windows})
        self.alpha = 1 - 0.5 ** (1 / half_life_minutes)
        self.z_threshold = z_threshold
        self.min_count = min_count
        self.ratio_threshold = ratio_threshold
        self.cooldown = cooldown_minutes
        self.warmup = warmup_minutes
        self.series: dict[str, _Series] = {}

    # -- input --------------------------------------------------------------------------------
    def observe(self, minute: int, *, keys: tuple[str, ...] = ("brand",), negative: bool = False,
                text: str | None = None, count: int = 1, negatives: int | None = None) -> list[Alert]:
        """Count messages at `minute` (minutes since the epoch) under each key; closes the minutes
        before it and returns any alerts they raised. `negatives` overrides `negative` for bulk counts."""
        alerts: list[Alert] = []
        neg = negatives if negatives is not None else (count if negative else 0)
        for key in keys:
            s = self.series.setdefault(key, _Series())
            alerts += self._advance(key, s, minute)
            s.cur_all += count
            s.cur_neg += neg
            if neg and text:
                words = [w for w in _WORD.findall(text.lower()) if w not in _STOP]
                s.cur_phrases.update(" ".join(p) for p in zip(words, words[1:], strict=False))
                s.cur_phrases.update(w for w in words if len(w) > 3)
                s.examples.append((minute, _mask(text)[:160]))
        return alerts

    def tick(self, minute: int) -> list[Alert]:
        """Close every minute before `minute` (call it from a timer when traffic is quiet)."""
        out: list[Alert] = []
        for key, s in self.series.items():
            out += self._advance(key, s, minute)
        return out

    # -- the model ----------------------------------------------------------------------------
    def _advance(self, key: str, s: _Series, minute: int) -> list[Alert]:
        if s.current is None:
            s.current = minute
            return []
        alerts: list[Alert] = []
        while s.current < minute:
            alert = self._close(key, s)
            if alert is not None:
                alerts.append(alert)
            s.current += 1
            if minute - s.current > 720:  # a long silence: skip ahead, the baseline already decayed enough
                s.current = minute - 720
        return alerts

    def _close(self, key: str, s: _Series) -> Alert | None:
        assert s.current is not None
        m = s.current
        s.history.append((m, s.cur_all, s.cur_neg))
        s.phrases.append((m, s.cur_phrases))
        s.cur_all, s.cur_neg, s.cur_phrases = 0, 0, Counter()
        s.minutes_seen += 1
        x_min = s.history[-1][2]
        if s.rate is None:
            s.rate = float(x_min)
        alert = None
        if s.minutes_seen >= self.warmup and (s.last_alert is None or m - s.last_alert >= self.cooldown):
            alert = self._check(key, s, m)
            if alert is not None:
                s.last_alert = m
        # baseline update, winsorised so that a storm does not become the new normal
        expected = self.expected_rate(s, m)
        capped = min(float(x_min), expected + 3 * math.sqrt(max(expected, 0.05)))
        s.residuals.append(x_min - expected)
        s.rate += self.alpha * (capped - s.rate)
        return alert

    @staticmethod
    def expected_rate(s: _Series, m: int) -> float:
        """Expected negatives per minute at minute `m` (the winsorised EWMA; a time-of-day profile
        learned over days would follow the daily rhythm more closely: a possible next step)."""
        assert s.rate is not None
        return s.rate

    def _dispersion(self, s: _Series, block: int = 10) -> float:
        """How much noisier than Poisson this key is (>= 1): the MAD of recent residuals summed over
        `block`-minute blocks (per-minute counts are too discrete at night) over their Poisson sd."""
        if len(s.residuals) < 6 * block or not s.rate:
            return 1.0
        r = np.fromiter(s.residuals, dtype=float)
        r = r[len(r) % block:].reshape(-1, block).sum(axis=1)
        mad = float(np.median(np.abs(r - np.median(r)))) * 1.4826
        return max(1.0, mad / math.sqrt(max(s.rate * block, 0.5)))

    def _check(self, key: str, s: _Series, m: int) -> Alert | None:
        assert s.rate is not None
        best: Alert | None = None
        disp = self._dispersion(s)
        for w in self.windows:
            recent = [h for h in s.history if h[0] > m - w]
            x = sum(h[2] for h in recent)
            total = sum(h[1] for h in recent)
            expected = max(self.expected_rate(s, m) * w, 0.1)
            # variance-stabilised (Anscombe-like) score: fair to small counts at night and to big ones
            z = 2 * (math.sqrt(x) - math.sqrt(expected)) / disp
            ratio = x / expected
            if x >= self.min_count and ratio >= self.ratio_threshold and z >= self.z_threshold:
                if best is None or z > best.z:
                    best = Alert(key, m, w, x, expected, z, ratio, x / max(total, 1))
        if best is not None:
            phrases: Counter[str] = Counter()
            for pm, c in s.phrases:
                if pm > m - best.window_minutes:
                    phrases.update(c)
            best.top_phrases = [(p, n) for p, n in phrases.most_common(8) if n > 1][:5]
            best.examples = [t for em, t in s.examples if em > m - best.window_minutes][-3:]
            best.sparkline = sparkline([h[2] for h in s.history], bucket=15)
        return best


def sparkline(values: list[int], bucket: int = 15) -> str:
    """A tiny text chart of the last hours (one character per `bucket` minutes)."""
    sums = [sum(values[i: i + bucket]) for i in range(0, len(values), bucket)]
    if not sums:
        return ""
    top = max(sums) or 1
    return "".join(_SPARK[min(len(_SPARK) - 1, int(v / top * (len(_SPARK) - 1)))] for v in sums)


def _mask(text: str) -> str:
    text = re.sub(r"[\w.%+-]+@[\w-]+\.[\w.-]+", "[email]", text)
    return re.sub(r"\+?\d[\d\s().-]{6,}\d", "[number]", text)


# -- the synthetic-stream benchmark ---------------------------------------------------------------
def _normal_rate(minute: np.ndarray, base: float, rng: np.random.Generator) -> np.ndarray:
    """Messages per minute: daily cycle (low at 4:00, high at 20:00), weekday factor, hourly noise."""
    hour = (minute / 60.0) % 24
    daily = 1 + 0.75 * np.sin(2 * np.pi * (hour - 14) / 24)  # 0.25x .. 1.75x
    day = (minute // 1440).astype(int)
    weekday = np.where(day % 7 >= 5, 1.25, 1.0)
    hourly = rng.gamma(25, 1 / 25, size=int(minute.max() // 60) + 1)[(minute // 60).astype(int)]  # +-20%
    return base * daily * weekday * hourly


def synthetic_stream(seed: int, days: int = 7, base_per_min: float = 6.0, neg_share: float = 0.15,
                     sizes: tuple[float, ...] = (2.0, 3.0, 5.0), incidents_per_size: int = 3,
                     incident_minutes: int = 60) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, float]]]:
    """One synthetic stream: (all messages per minute, negative per minute, incidents as (start, end, size)).
    An incident multiplies the negative rate for `incident_minutes`; its extra negatives add to the total."""
    rng = np.random.default_rng(seed)
    minutes = days * 1440
    t = np.arange(minutes)
    rate = _normal_rate(t, base_per_min, rng)
    neg_rate = rate * neg_share
    incidents = []
    slots = rng.permutation(np.arange(6, (days * 24) - 3, 6))[: len(sizes) * incidents_per_size]  # hours
    for i, h in enumerate(sorted(slots)):
        size = sizes[i % len(sizes)]
        start = int(h * 60 + rng.integers(0, 60))
        incidents.append((start, start + incident_minutes, size))
        neg_rate[start: start + incident_minutes] *= size
    totals = rng.poisson(rate)
    negs = rng.poisson(neg_rate)
    extra = rng.poisson(np.maximum(neg_rate - rate * neg_share, 0))
    totals = totals + extra
    return totals, np.minimum(negs, totals), incidents


def simulate(seeds: int = 5, days: int = 7, base_per_min: float = 6.0, neg_share: float = 0.15,
             sizes: tuple[float, ...] = (2.0, 3.0, 5.0), incidents_per_size: int = 3,
             incident_minutes: int = 60, **monitor_kw: Any) -> dict[str, Any]:
    """Run the monitor over `seeds` synthetic weeks; report detection delay per incident size and
    false alarms per week (alarms outside [start, end + 30 min] of every incident)."""
    rows: dict[float, list[float | None]] = {m: [] for m in sizes}
    false_alarms = 0
    minutes = days * 1440
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        t = np.arange(minutes)
        rate = _normal_rate(t, base_per_min, rng)
        neg_rate = rate * neg_share
        incidents = []
        slots = rng.permutation(np.arange(6, (days * 24) - 3, 6))[: len(sizes) * incidents_per_size]  # hours
        for i, h in enumerate(sorted(slots)):
            size = sizes[i % len(sizes)]
            start = int(h * 60 + rng.integers(0, 60))
            incidents.append((start, start + incident_minutes, size))
            neg_rate[start: start + incident_minutes] *= size
        totals = rng.poisson(rate)
        negs = rng.poisson(neg_rate)
        extra = rng.poisson(np.maximum(neg_rate - rate * neg_share, 0))
        totals = totals + extra
        mon = CrisisMonitor(**monitor_kw)
        alarms: list[int] = []
        for m in range(minutes):
            for a in mon.observe(m, count=int(totals[m]), negatives=int(min(negs[m], totals[m]))):
                alarms.append(a.at_minute)
        for a in mon.tick(minutes):
            alarms.append(a.at_minute)
        for start, end, size in incidents:
            hits = [a for a in alarms if start <= a <= end + 30]
            rows[size].append((hits[0] - start + 1) if hits else None)
        false_alarms += sum(1 for a in alarms if not any(s <= a <= e + 30 for s, e, _ in incidents))
    out_rows = []
    for size, delays in rows.items():
        found = [d for d in delays if d is not None]
        out_rows.append({"incident": f"{size:g}x negative volume", "incidents": len(delays), "detected": len(found),
                         "median_delay_min": float(np.median(found)) if found else None,
                         "max_delay_min": float(max(found)) if found else None,
                         "within_10_min": sum(1 for d in found if d <= 10)})
    weeks = seeds * days / 7
    return {"rows": out_rows, "false_alarms_per_week": round(false_alarms / weeks, 2), "weeks": weeks,
            "setup": {"base_per_min": base_per_min, "neg_share": neg_share, "incident_minutes": incident_minutes,
                      "daily_cycle": "0.25x-1.75x", "weekend": 1.25, "hourly_noise_sd": 0.2, **monitor_kw}}
