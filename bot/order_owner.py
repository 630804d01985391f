"""Who may see an order: the second factor (the order's email or postcode) and its rate limit.

Like a shop's "track my order" page, an order number alone is not enough: anyone can guess six
digits. A fan proves ownership with the order's email or postcode, once per conversation: a fan
who verified an order, or gave an order's email, is not asked again for that order or for another
order with the same email. A wrong answer and an unknown order number get the same reply, so the
bot never says which part was wrong or whether an order exists.

What the fan proved and when they failed lives in the conversation's slots (`order_links`,
`order_verify_failures`), i.e. in the conversation's state in the store: it holds across processes
and restarts, and turns of one conversation are serialised by the store's conversation lease, so
two workers cannot both spend the last attempt. Only hashes of emails are kept there.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.orders import Order

LINKS_SLOT = "order_links"
FAILURES_SLOT = "order_verify_failures"
VERIFY_MODES = ("email_or_postcode", "none")


@dataclass(frozen=True)
class OwnerCheck:
    """`orders.verify`, `orders.max_failed_verifications` and `orders.verify_window_minutes`."""

    verify: str = "email_or_postcode"
    max_failed: int = 5
    window_minutes: float = 60.0

    def __post_init__(self) -> None:
        if self.verify not in VERIFY_MODES:
            raise ValueError(f"orders.verify: {self.verify!r} is not one of {', '.join(VERIFY_MODES)}")

    @property
    def required(self) -> bool:
        return self.verify != "none"


def email_key(email: str) -> str:
    """A stable, non-reversible-at-a-glance key for an email, so slots never hold the address itself."""
    return hashlib.sha256(email.strip().casefold().encode()).hexdigest()[:32]


def _postcode(text: str) -> str:
    return re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", text)).upper()


def proof_kind(order: Order | None, proof: str) -> str | None:
    """'email' or 'postcode' when `proof` is that order's, else None (also for no order at all).

    Compared in constant time so response timing does not tell a near miss from a far one.
    """
    answer = unicodedata.normalize("NFKC", proof).strip()
    if order is None or not answer:
        return None
    if order.email:
        found = re.search(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+", answer)
        candidate = found.group(0).rstrip(".").casefold() if found else ""
        if candidate and hmac.compare_digest(candidate.encode(), order.email.strip().casefold().encode()):
            return "email"
    if order.postcode:
        candidate = _postcode(answer)
        words = [_postcode(w) for w in re.split(r"[,;:]|\bis\b", answer)]  # "it's 10115", "postcode: SW1A 1AA"
        want = _postcode(order.postcode).encode()
        if any(w and hmac.compare_digest(w.encode(), want) for w in [candidate, *words, *_tail_words(answer)]):
            return "postcode"
    return None


def _tail_words(answer: str) -> list[str]:
    """The last one and two words ('my postcode is SW1A 1AA' -> 'SW1A1AA', '1AA')."""
    words = answer.split()
    return [_postcode(" ".join(words[-n:])) for n in (1, 2) if len(words) >= n]


def links(slots: dict[str, Any]) -> dict[str, list[str]]:
    raw = slots.get(LINKS_SLOT)
    out: dict[str, list[str]] = {"orders": [], "emails": []}
    if isinstance(raw, dict):
        for k in out:
            out[k] = [str(x) for x in raw.get(k) or [] if isinstance(x, str)]
    return out


def is_linked(slots: dict[str, Any], number: str, order: Order | None) -> bool:
    """This conversation already proved this order, or the email this order belongs to."""
    lk = links(slots)
    if number in lk["orders"]:
        return True
    return bool(order is not None and order.email and email_key(order.email) in lk["emails"])


def linked(slots: dict[str, Any], number: str, order: Order | None, kind: str) -> dict[str, list[str]]:
    """The links after a successful proof: the order, and its email when the fan gave the email."""
    lk = links(slots)
    if number not in lk["orders"]:
        lk["orders"] = [*lk["orders"], number][-50:]
    if kind == "email" and order is not None and order.email:
        key = email_key(order.email)
        if key not in lk["emails"]:
            lk["emails"] = [*lk["emails"], key][-10:]
    return lk


def recent_failures(slots: dict[str, Any], check: OwnerCheck, now: datetime | None = None) -> list[str]:
    """The failed attempts inside the window (ISO timestamps, oldest first)."""
    now = now or datetime.now(UTC)
    since = now - timedelta(minutes=check.window_minutes)
    out: list[str] = []
    for stamp in slots.get(FAILURES_SLOT) or []:
        try:
            at = datetime.fromisoformat(str(stamp))
        except ValueError:
            continue
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        if at >= since:
            out.append(at.isoformat())
    return out


def blocked(slots: dict[str, Any], check: OwnerCheck, now: datetime | None = None) -> bool:
    return len(recent_failures(slots, check, now)) >= check.max_failed
