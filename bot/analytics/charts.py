"""Matplotlib charts as base64 PNG data URIs, so the HTML report opens anywhere without a network."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

BLUE, ORANGE, RED, GREEN, GREY = "#2563eb", "#f59e0b", "#dc2626", "#16a34a", "#9ca3af"


def _uri(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _fig(w: float = 7.0, h: float = 2.8) -> tuple[Figure, Any]:
    fig, ax = plt.subplots(figsize=(w, h))
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _ticks(ax: Any, labels: Sequence[str], max_labels: int = 12) -> None:
    step = max(1, len(labels) // max_labels)
    ax.set_xticks(range(0, len(labels), step), [labels[i][5:] for i in range(0, len(labels), step)],
                  rotation=45, fontsize=7)


def volume_by_day(by_day: list[dict[str, Any]]) -> str | None:
    if not by_day:
        return None
    fig, ax = _fig()
    ax.bar(range(len(by_day)), [r["n"] for r in by_day], color=BLUE)
    _ticks(ax, [r["day"] for r in by_day])
    ax.set_title("Fan messages per day", fontsize=10)
    return _uri(fig)


def heatmap(grid: list[list[int]], weekdays: Sequence[str]) -> str | None:
    if not any(any(row) for row in grid):
        return None
    fig, ax = plt.subplots(figsize=(7.0, 2.6))
    im = ax.imshow(grid, aspect="auto", cmap="Blues")
    ax.set_yticks(range(7), list(weekdays), fontsize=8)
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)], fontsize=8)
    ax.set_xlabel("hour of day (UTC)", fontsize=8)
    ax.set_title("When fans write (messages by weekday and hour)", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.03)
    return _uri(fig)


def barh(items: list[tuple[str, float]], title: str, color: str = BLUE) -> str | None:
    if not items:
        return None
    items = items[:12][::-1]
    fig, ax = _fig(7.0, 0.6 + 0.28 * len(items))
    ax.barh([k for k, _ in items], [v for _, v in items], color=color)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title(title, fontsize=10)
    return _uri(fig)


def lines(days: list[str], series: dict[str, list[int]], title: str,
          colors: dict[str, str] | None = None) -> str | None:
    if not days or not series:
        return None
    fig, ax = _fig(7.0, 3.0)
    for name, values in series.items():
        ax.plot(range(len(days)), values, label=name, linewidth=1.4,
                color=(colors or {}).get(name))
    _ticks(ax, days)
    ax.legend(fontsize=7, ncol=4, frameon=False)
    ax.set_title(title, fontsize=10)
    return _uri(fig)


def response_times(times: dict[str, dict[str, Any]]) -> str | None:
    prios = [p for p, v in times.items() if v["first_response"]["n"] or v["resolution"]["n"]]
    if not prios:
        return None
    fig, ax = _fig(7.0, 2.8)
    x = range(len(prios))
    def hours(p: str, kind: str, stat: str) -> float:
        return (times[p][kind][stat] or 0.0) / 3600
    width = 0.2
    for i, (kind, stat, color) in enumerate([("first_response", "median_s", BLUE), ("first_response", "p90_s", GREY),
                                             ("resolution", "median_s", GREEN), ("resolution", "p90_s", ORANGE)]):
        ax.bar([xi + (i - 1.5) * width for xi in x], [hours(p, kind, stat) for p in prios], width,
               label=f"{kind.replace('_', ' ')} {stat[:-2]}", color=color)
    ax.set_xticks(list(x), prios, fontsize=8)
    ax.set_ylabel("hours", fontsize=8)
    ax.legend(fontsize=7, ncol=2, frameon=False)
    ax.set_title("Response and resolution time by priority", fontsize=10)
    return _uri(fig)


def csat(distribution: dict[str, int]) -> str | None:
    if not any(distribution.values()):
        return None
    fig, ax = _fig(4.0, 2.4)
    keys = sorted(distribution)
    ax.bar(keys, [distribution[k] for k in keys], color=[RED, ORANGE, GREY, GREEN, GREEN][: len(keys)])
    ax.set_xlabel("rating", fontsize=8)
    ax.set_title("CSAT ratings", fontsize=10)
    return _uri(fig)
