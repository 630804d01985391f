"""Crisis early warning: is the share of negative messages rising faster than chance explains?

Per key (the whole brand, and each channel) messages are counted per minute: all, negative (negative
sentiment, or a complaint / crisis intent), and recurring phrases of the negative ones. Every minute
the last `short` and `window` minutes are tested against a learned baseline.

Why the negative *share*, not the negative count: traffic follows a daily rhythm (x0.25 at night,
x1.75 in the evening), weekends and hour-to-hour swings of +-20%; a count baseline (an EWMA) always
lags that rhythm and either misses storms or alarms every busy evening. The share of negative
messages hardly moves with the time of day, and the window's own total volume says how busy this
hour is. An incident adds negative messages, so the share jumps. Hence:

- baseline share p: negatives / all over the recent past (EWMA, half-life `baseline_half_life_minutes`),
  learned from minutes that have already left the longest window (what is tested never feeds its
  own baseline), each minute winsorised at + 3 sigma, and with the hour around an alert left out
  (a storm must not become the new normal; a lasting change, alerting again within 3 cooldowns,
  is learned);
- test: X negatives out of T messages in the window, binomial likelihood-ratio (signed-root
  deviance) z of X against T x p: conditional on the volume, exact for small night-time counts and
  for large ones;
- robust z: divided by the key's over-dispersion (>= 1), learned from 10-minute blocks of the
  baseline residuals (winsorised EWMA of their squared z): a noisy brand needs a bigger jump;
- alarm only with at least `min_count` negatives in the window, `ratio` x the negatives expected
  from the window's non-negative traffic (T - X) x p / (1 - p) (so 3x the normal negative volume
  shows as x3), and z >= `z_threshold`, so a quiet night never alarms on three angry messages;
  then a cooldown.

`simulate()` is the synthetic-stream benchmark (a normal week with daily seasonality and noise, plus
injected incidents), used by `benchmarks/moderation.py` and the tests. The defaults were tuned on
seeds 100-119 and are reported on seeds 0-19 (BENCHMARKS.md, section 7).
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
_BLOCK = 10  # minutes per block of the over-dispersion estimate (single minutes are too discrete at night)
_CLIP = 9.0  # block z^2 is winsorised here: an undetected storm cannot inflate the dispersion much ...
_CLIP_MEAN = 0.9707  # ... and E[min(z^2, 9)] for a standard normal z rescales it to a variance


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
    baseline_share: float = 0.0

    def summary(self) -> str:
        phrases = ", ".join(f"“{p}” ({n})" for p, n in self.top_phrases[:5]) or "none"
        return (f"Crisis warning [{self.key}]: {self.observed} negative messages in the last {self.window_minutes} "
                f"min vs {self.expected:.1f} expected (x{self.ratio:.1f}, z={self.z:.1f}); negative share "
                f"{self.share_negative:.0%} (normally {self.baseline_share:.0%}). Last hours: {self.sparkline}. "
                f"Top phrases: {phrases}.")

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "at_minute": self.at_minute, "window_minutes": self.window_minutes,
                "observed": self.observed, "expected": round(self.expected, 2), "z": round(self.z, 2),
                "ratio": round(self.ratio, 2), "share_negative": round(self.share_negative, 3),
                "baseline_share": round(self.baseline_share, 3),
                "top_phrases": self.top_phrases, "examples": self.examples, "sparkline": self.sparkline}


@dataclass
class _Series:
    """Per-key state, plain numbers and deques: per-minute counts of the last hours, the baseline."""

    history: deque[tuple[int, int, int]] = field(default_factory=lambda: deque(maxlen=360))  # (minute, all, neg)
    phrases: deque[tuple[int, Counter[str]]] = field(default_factory=lambda: deque(maxlen=60))
    examples: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=20))
    base_all: float = 0.0  # EWMA of messages per minute (only its ratio to base_neg matters)
    base_neg: float = 0.0  # EWMA of negatives per minute, winsorised
    base_minutes: int = 0  # minutes in the baseline (the EWMA is a plain mean until it has enough)
    disp_var: float = 1.0  # EWMA of the winsorised squared block z: the over-dispersion, squared
    disp_blocks: int = 0
    block_res: float = 0.0  # the block being summed: residual negatives, their binomial variance, minutes
    block_var: float = 0.0
    block_n: int = 0
    minutes_seen: int = 0
    last_alert: int | None = None
    quarantine: tuple[int, int] | None = None  # minutes kept out of the baseline (around an alert)
    current: int | None = None
    cur_all: int = 0
    cur_neg: int = 0
    cur_phrases: Counter[str] = field(default_factory=Counter)

    @property
    def share(self) -> float | None:
        """The baseline negative share (None before any baseline minute)."""
        return self.base_neg / self.base_all if self.base_all > 0 else None


class CrisisMonitor:
    def __init__(self, *, window_minutes: int = 10, short_minutes: int = 5, extra_windows: tuple[int, ...] = (),
                 z_threshold: float = 4.25, min_count: int = 8, ratio_threshold: float = 2.0,
                 cooldown_minutes: int = 60, warmup_minutes: int = 120, baseline_half_life_minutes: float = 360.0,
                 dispersion_half_life_blocks: float = 144.0) -> None:
        self.windows = sorted({short_minutes, window_minutes, *extra_windows})
        self.alpha = 1 - 0.5 ** (1 / baseline_half_life_minutes)
        self.beta = 1 - 0.5 ** (1 / dispersion_half_life_blocks)
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
            if minute - s.current > 720:  # a long silence: skip ahead (silence leaves the share as it is)
                s.current = minute - 720
        return alerts

    def _close(self, key: str, s: _Series) -> Alert | None:
        assert s.current is not None
        m = s.current
        s.history.append((m, s.cur_all, s.cur_neg))
        s.phrases.append((m, s.cur_phrases))
        s.cur_all, s.cur_neg, s.cur_phrases = 0, 0, Counter()
        s.minutes_seen += 1
        lag = self.windows[-1] + 1  # the minute that has just left every window feeds the baseline
        if len(s.history) > lag:
            self._learn(s, *s.history[-1 - lag])
        if s.minutes_seen < self.warmup or s.share is None or not (0 < s.share < 1):
            return None
        if s.last_alert is not None and m - s.last_alert < self.cooldown:
            return None
        alert = self._check(key, s, m)
        if alert is not None:
            if s.last_alert is None or m - s.last_alert > 3 * self.cooldown:  # a new episode, not a lasting shift
                s.quarantine = (m - self.windows[-1], m + self.cooldown)
            s.last_alert = m
        return alert

    def _learn(self, s: _Series, minute: int, n_all: int, n_neg: int) -> None:
        """Feed one past minute into the baseline share and the over-dispersion estimate."""
        if s.quarantine is not None and s.quarantine[0] <= minute <= s.quarantine[1]:
            return
        p = s.share
        if p is not None and 0 < p < 1:
            mean, var = n_all * p, n_all * p * (1 - p)
            x = min(float(n_neg), mean + 3 * math.sqrt(max(var, 0.25)) + 1)  # winsorised
            s.block_res += x - mean
            s.block_var += var
            s.block_n += 1
            if s.block_n >= _BLOCK:
                if s.block_var >= 1.0:
                    z2 = min(s.block_res ** 2 / s.block_var, _CLIP) / _CLIP_MEAN
                    s.disp_blocks += 1
                    s.disp_var += max(self.beta, 1 / s.disp_blocks) * (z2 - s.disp_var)
                s.block_res, s.block_var, s.block_n = 0.0, 0.0, 0
        else:
            x = float(n_neg)
        s.base_minutes += 1
        a = max(self.alpha, 1 / s.base_minutes)  # a plain mean at first, then an EWMA
        s.base_all += a * (n_all - s.base_all)
        s.base_neg += a * (min(x, n_all) - s.base_neg)

    def dispersion(self, s: _Series) -> float:
        """How much noisier than binomial this key is (>= 1; 1 until a few blocks were seen)."""
        return max(1.0, math.sqrt(s.disp_var)) if s.disp_blocks >= 6 else 1.0

    def _check(self, key: str, s: _Series, m: int) -> Alert | None:
        p = s.share
        assert p is not None
        best: Alert | None = None
        disp = self.dispersion(s)
        for w in self.windows:
            recent = [h for h in s.history if h[0] > m - w]
            x = sum(h[2] for h in recent)
            total = max(sum(h[1] for h in recent), x)
            z = binomial_z(x, total, p) / disp
            expected = max((total - x) * p / (1 - p), 0.5)  # negatives the rest of the traffic implies
            ratio = x / expected
            if x >= self.min_count and ratio >= self.ratio_threshold and z >= self.z_threshold:
                if best is None or z > best.z:
                    best = Alert(key, m, w, x, expected, z, ratio, x / max(total, 1), baseline_share=p)
        if best is not None:
            phrases: Counter[str] = Counter()
            for pm, c in s.phrases:
                if pm > m - best.window_minutes:
                    phrases.update(c)
            best.top_phrases = [(p, n) for p, n in phrases.most_common(8) if n > 1][:5]
            best.examples = [t for em, t in s.examples if em > m - best.window_minutes][-3:]
            best.sparkline = sparkline([h[2] for h in s.history], bucket=15)
        return best


def binomial_z(x: int, n: int, p: float) -> float:
    """Signed-root likelihood ratio of x successes in n trials against share p, 0 unless x > n p.
    Close to a standard normal even for a handful of messages, unlike (x - np) / sd."""
    if n <= 0 or x <= n * p:
        return 0.0
    r = x * math.log(x / (n * p))
    if x < n:
        r += (n - x) * math.log((n - x) / (n * (1 - p)))
    return math.sqrt(max(2 * r, 0.0))


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
             incident_minutes: int = 60, first_seed: int = 0, **monitor_kw: Any) -> dict[str, Any]:
    """Run the monitor over `seeds` synthetic weeks (seeds `first_seed`, `first_seed` + 1, ...); report
    detection delay per incident size (minutes of the incident seen when it alarmed) and false alarms
    per week (alarms outside [start, end + 30 min] of every incident)."""
    rows: dict[float, list[float | None]] = {m: [] for m in sizes}
    false_alarms = 0
    for seed in range(first_seed, first_seed + seeds):
        totals, negs, incidents = synthetic_stream(seed, days, base_per_min, neg_share, sizes, incidents_per_size,
                                                   incident_minutes)
        mon = CrisisMonitor(**monitor_kw)
        alarms: list[int] = []
        for m in range(len(totals)):
            for a in mon.observe(m, count=int(totals[m]), negatives=int(negs[m])):
                alarms.append(a.at_minute)
        for a in mon.tick(len(totals)):
            alarms.append(a.at_minute)
        for start, end, size in incidents:
            hits = [a for a in alarms if start <= a <= end + 30]
            rows[size].append((hits[0] - start + 1) if hits else None)
        false_alarms += sum(1 for a in alarms if not any(s <= a <= e + 30 for s, e, _ in incidents))
    out_rows = []
    for size, delays in rows.items():
        found = [d for d in delays if d is not None]
        out_rows.append({"incident": f"{size:g}x negative volume", "incidents": len(delays), "detected": len(found),
                         "within_10_min_share": round(sum(1 for d in found if d <= 10) / max(len(delays), 1), 3),
                         "median_delay_min": float(np.median(found)) if found else None,
                         "max_delay_min": float(max(found)) if found else None,
                         "within_10_min": sum(1 for d in found if d <= 10)})
    weeks = seeds * days / 7
    return {"rows": out_rows, "false_alarms_per_week": round(false_alarms / weeks, 2), "weeks": weeks,
            "seeds": f"{first_seed}-{first_seed + seeds - 1}",
            "setup": {"base_per_min": base_per_min, "neg_share": neg_share, "incident_minutes": incident_minutes,
                      "daily_cycle": "0.25x-1.75x", "weekend": 1.25, "hourly_noise_sd": 0.2, **monitor_kw}}
