"""Order lookup port. The default adapter reads the demo table (CSV); a brand plugs in its shop API."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

ORDER_NUMBER = re.compile(r"\bVT[-\s\u2010-\u2015\u2212]?(\d{6})\b", re.IGNORECASE)  # any dash a phone types


def normalise_order_number(text: str) -> str | None:
    """'vt 482913', 'VT482913', 'VT-482913' -> 'VT-482913'; None if there is none."""
    m = ORDER_NUMBER.search(text)
    return f"VT-{m.group(1)}" if m else None


@dataclass(frozen=True)
class Order:
    order_number: str
    status: str
    product: str
    eta: str | None = None
    placed_at: str | None = None


class OrderLookup(Protocol):
    def get(self, order_number: str) -> Order | None: ...


class CsvOrderTable:
    """Demo adapter: orders from a CSV file, re-read when it changes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._mtime = -1.0
        self._orders: dict[str, Order] = {}

    def _load(self) -> None:
        if not self.path.exists():
            self._orders = {}
            return
        mtime = self.path.stat().st_mtime
        if mtime == self._mtime:
            return
        with self.path.open(newline="", encoding="utf-8") as f:
            self._orders = {
                row["order_number"].strip().upper(): Order(row["order_number"].strip().upper(), row["status"].strip(),
                                                           row["product"].strip(), row.get("eta") or None,
                                                           row.get("placed_at") or None)
                for row in csv.DictReader(f)
            }
        self._mtime = mtime

    def get(self, order_number: str) -> Order | None:
        self._load()
        return self._orders.get(order_number.strip().upper())
