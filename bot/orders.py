"""Order lookup port. The default adapter reads the demo table (CSV); a brand plugs in its shop API
(`bot/order_http.py`, `orders.adapter: http`).

The order-number format is the brand's (`orders.number_pattern` / `number_format` / `number_example`
in config.yml): `normalise_order_number` turns whatever a fan typed into the canonical form orders are
looked up by. The format is process-wide (like the log redaction pattern in bot/logs.py) because the
flow normalisers that use it are a module-level registry; `App` sets it from config at start.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from nlu.yamlfile import DataError

#: The demo brand's format, any dash a phone types; the digits are the capture group.
DEFAULT_PATTERN = r"\bVT[-\s\u2010-\u2015\u2212]?(\d{6})\b"
DEFAULT_FORMAT = "VT-{digits}"
DEFAULT_EXAMPLE = "VT-123456"


@dataclass(frozen=True)
class OrderNumberFormat:
    """How order numbers look: `pattern` finds one in text (its first capture group, or the whole
    match without one, fills `{digits}` of `canonical`); `example` is what fans are shown."""

    pattern: re.Pattern[str]
    canonical: str = DEFAULT_FORMAT
    example: str = DEFAULT_EXAMPLE

    @classmethod
    def build(cls, pattern: str = DEFAULT_PATTERN, canonical: str = DEFAULT_FORMAT,
              example: str = DEFAULT_EXAMPLE) -> OrderNumberFormat:
        """Compile and check the three settings together; errors name the config key."""
        try:
            rx = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"orders.number_pattern: not a valid regular expression: {exc}") from None
        if rx.groups > 1:
            raise ValueError("orders.number_pattern: use at most one capture group")
        if "{digits}" not in canonical:
            raise ValueError("orders.number_format: needs a {digits} placeholder, e.g. VT-{digits}")
        fmt = cls(rx, canonical, example)
        if fmt.normalise(example) is None:
            raise ValueError(f"orders.number_example: {example!r} does not match orders.number_pattern")
        return fmt

    def normalise(self, text: str) -> str | None:
        """The first order number in `text` in canonical form ('vt 482913' -> 'VT-482913'), or None."""
        m = self.pattern.search(text)
        if m is None:
            return None
        core = m.group(1) if self.pattern.groups and m.group(1) is not None else m.group(0)
        return self.canonical.replace("{digits}", core.strip().upper())


_format = OrderNumberFormat.build()


def set_order_number_format(fmt: OrderNumberFormat | None) -> None:
    """Use the brand's format everywhere order numbers are read (None: the demo brand's)."""
    global _format
    _format = fmt or OrderNumberFormat.build()


def order_number_format() -> OrderNumberFormat:
    return _format


def normalise_order_number(text: str) -> str | None:
    """'vt 482913', 'VT482913', 'VT-482913' -> 'VT-482913' (with the configured format); None if there is none."""
    return _format.normalise(text)


def with_order_example(responses: dict[str, list[Any]], example: str) -> dict[str, list[Any]]:
    """Responses with `{order_example}` filled in, so texts that quote the format follow config.

    Filled once at start (not per render) because the example is brand configuration, not a slot:
    every language's variation gets it, and nothing has to remember to pass it.
    """
    token = "{order_example}"
    return {name: [replace(v, text=v.text.replace(token, example)) if token in v.text else v for v in variations]
            for name, variations in responses.items()}


@dataclass(frozen=True)
class Order:
    order_number: str
    status: str
    product: str
    eta: str | None = None
    placed_at: str | None = None
    #: the owner's contact details: the second factor a fan proves ownership with (never shown)
    email: str | None = None
    postcode: str | None = None


class OrderLookup(Protocol):
    def get(self, order_number: str) -> Order | None: ...


class CsvOrderTable:
    """Demo adapter: orders from a CSV file, re-read when it changes.

    Columns: order_number, status, product (required), eta, placed_at, email, postcode (optional;
    a row without email and postcode can never be verified, so its status is never shown while
    `orders.verify` is on).
    """

    REQUIRED = ("order_number", "status", "product")

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
        orders: dict[str, Order] = {}
        with self.path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in self.REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"order table lacks column(s) {', '.join(missing)}", str(self.path), 1)
            for row in reader:
                number = (row.get("order_number") or "").strip().upper()
                if not number:
                    raise DataError("row without an order_number", str(self.path), reader.line_num, "order_number")
                orders[number] = Order(number, (row.get("status") or "").strip(), (row.get("product") or "").strip(),
                                       _opt(row.get("eta")), _opt(row.get("placed_at")), _opt(row.get("email")),
                                       _opt(row.get("postcode")))
        self._orders = orders
        self._mtime = mtime

    def get(self, order_number: str) -> Order | None:
        self._load()
        return self._orders.get(order_number.strip().upper())


def _opt(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def order_lookup_from_config(cfg: Any) -> OrderLookup:
    """The adapter `orders.adapter` names: the CSV table (`orders.demo_table`) or the shop's HTTP API."""
    orders = cfg.orders
    if orders.adapter == "http":
        from bot.order_http import HttpOrderLookup

        if not orders.http.url:
            raise ValueError("orders.http.url: required when orders.adapter is http")
        h = orders.http
        return HttpOrderLookup(h.url, auth_header=h.auth_header, auth_env=h.auth_env, timeout_s=h.timeout_s,
                               retries=h.retries, backoff_s=h.backoff_s, fields=h.fields)
    return CsvOrderTable(cfg.resolve(orders.demo_table))


def number_format_from_config(cfg: Any) -> OrderNumberFormat:
    o = cfg.orders
    return OrderNumberFormat.build(o.number_pattern, o.number_format, o.number_example)


def fill_order_example(domain: Any, example: str) -> None:
    """Put the brand's example order number into every response (and translation) quoting `{order_example}`."""
    domain.responses = with_order_example(domain.responses, example)
    translated = getattr(domain, "translated", None)
    if isinstance(translated, dict):
        domain.translated = {lang: with_order_example(r, example) for lang, r in translated.items()}
