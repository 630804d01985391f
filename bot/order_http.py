"""`HttpOrderLookup`: the order-lookup port over a shop's HTTP/JSON API (`orders.adapter: http`).

`GET {url}` with `{order_number}` filled in; the auth header's value comes from an environment
variable (`orders.http.auth_env`), never from config.yml, and is never logged. A timeout, a lost
connection or a 5xx is tried again (`retries`, with doubling `backoff_s`); a 404 is "no such order"
(None); anything else is an `OrderLookupError`, which the action registry turns into an apology.

The calls are blocking on purpose: `action_lookup_order` is a plain function, and the action
registry runs plain functions in a worker thread (dialogs/actions.py), so the event loop never waits
on the shop. Keep `timeout_s * (retries + 1)` plus the backoff under `actions.timeout_s`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from bot.orders import Order

log = logging.getLogger("fancare.orders")

#: Order field -> JSON field (a dotted path reaches into objects: "shipping.eta").
DEFAULT_FIELDS = {"order_number": "order_number", "status": "status", "product": "product", "eta": "eta",
                  "placed_at": "placed_at", "email": "email", "postcode": "postcode"}
REQUIRED_FIELDS = ("status", "product")


class OrderLookupError(RuntimeError):
    """The shop could not answer (after retries), or answered something that is not an order."""


class HttpOrderLookup:
    def __init__(self, url: str, *, auth_header: str = "Authorization", auth_env: str | None = None,
                 timeout_s: float = 3.0, retries: int = 2, backoff_s: float = 0.2,
                 fields: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None,
                 client: httpx.Client | None = None) -> None:
        if "{order_number}" not in url:
            raise ValueError("orders.http.url: needs an {order_number} placeholder")
        self.url = url
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.fields = {**DEFAULT_FIELDS, **(fields or {})}
        self._headers = {"Accept": "application/json"}
        if auth_env:
            secret = (env if env is not None else os.environ).get(auth_env)
            if not secret:
                raise ValueError(f"orders.http.auth_env: environment variable {auth_env} is not set")
            self._headers[auth_header] = secret
        self._client = client or httpx.Client(follow_redirects=False)

    def __repr__(self) -> str:  # the headers (the secret) stay out of reprs and therefore out of logs
        return f"HttpOrderLookup({self.url!r}, retries={self.retries}, timeout_s={self.timeout_s})"

    def get(self, order_number: str) -> Order | None:
        url = self.url.replace("{order_number}", quote(order_number.strip(), safe=""))
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                resp = self._client.get(url, headers=self._headers, timeout=self.timeout_s)
            except httpx.TimeoutException:
                problem = f"timed out after {self.timeout_s:g} s"
            except httpx.TransportError as exc:
                problem = f"connection failed ({type(exc).__name__})"
            else:
                if resp.status_code == 404:
                    return None
                if resp.status_code >= 500:
                    problem = f"HTTP {resp.status_code}"
                elif resp.status_code != 200:
                    raise OrderLookupError(f"order lookup {self.url}: unexpected HTTP {resp.status_code}")
                else:
                    return self._order(order_number, resp)
            log.warning("order lookup try %d of %d: %s", attempt + 1, self.retries + 1, problem)
        raise OrderLookupError(f"order lookup {self.url}: {problem} ({self.retries + 1} tries)")

    def _order(self, order_number: str, resp: httpx.Response) -> Order:
        try:
            data = resp.json()
        except ValueError:
            raise OrderLookupError(f"order lookup {self.url}: the answer is not JSON") from None
        if not isinstance(data, dict):
            raise OrderLookupError(f"order lookup {self.url}: expected a JSON object, got {type(data).__name__}")
        values = {name: _dig(data, path) for name, path in self.fields.items()}
        for name in REQUIRED_FIELDS:
            if values.get(name) in (None, ""):
                raise OrderLookupError(f"order lookup {self.url}: the answer has no {self.fields[name]!r} "
                                       f"(orders.http.fields.{name})")
        return Order(order_number=str(values.get("order_number") or order_number).strip().upper(),
                     status=str(values["status"]), product=str(values["product"]),
                     eta=_text(values.get("eta")), placed_at=_text(values.get("placed_at")),
                     email=_text(values.get("email")), postcode=_text(values.get("postcode")))

    def close(self) -> None:
        self._client.close()


def _dig(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _text(value: Any) -> str | None:
    return str(value).strip() or None if value not in (None, "") else None
