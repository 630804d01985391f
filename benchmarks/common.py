"""Helpers shared by the benchmarks: result files, tables, percentiles, a config file per variant."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
CACHE = RESULTS / "cache"


def machine() -> dict[str, Any]:
    """What the numbers were measured on (they mean little without it)."""
    import torch

    return {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "platform": platform.platform(), "load_avg_at_start": os.getloadavg()[0]}


def write_result(name: str, body: dict[str, Any], out_dir: Path = RESULTS) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    body = {"benchmark": name, "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(), **body}
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(body, indent=2, ensure_ascii=False))
    return path


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A Markdown table (it is pasted into BENCHMARKS.md as is)."""
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4f}" if abs(v) < 1 else f"{v:.1f}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def percentiles(values_s: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max in milliseconds."""
    a = np.asarray(values_s) * 1000
    return {"p50_ms": float(np.percentile(a, 50)), "p90_ms": float(np.percentile(a, 90)),
            "p99_ms": float(np.percentile(a, 99)), "max_ms": float(a.max()), "n": int(a.size)}


def write_config(path: Path, nlu: dict[str, Any], store_url: str = "sqlite:///:memory:") -> Path:
    """A config.yml for one variant, resolving the demo's relative paths against the repository."""
    data = {
        "store": {"url": store_url},
        "nlu": {"training_data": [str(REPO / "training_data")], "model_dir": str(path.parent / "models"), **nlu},
        "knowledge_base": {"path": str(REPO / "knowledge_base" / "articles")},
        "dialogs": {"domain": str(REPO / "dialogs" / "domain.yml"), "flows": [str(REPO / "dialogs" / "flows.yml")]},
        "moderation": {"training_data": str(REPO / "training_data" / "moderation")},
        "orders": {"demo_table": str(REPO / "dialogs" / "demo_orders.csv")},
        "logging": {"level": "WARNING"},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self.start
