"""Spam signals from rules on the normalised text, plus per-sender flood and repeat tracking.

Rules, not a model: scams change wording weekly but keep their shape (a link + money + urgency), and
a rule that fires says exactly why. Each pattern adds weight; the score is capped at 1.0.
Flood and repeats are counted from the store when the pipeline runs (`count_recent` over the fan's
last inbound messages in that chat, by arrival time), so several fancare processes sharing one
database see one flood; `FloodTracker` is the in-memory fallback for `fancare nlu parse` and
callers without a store.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlparse

_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"]+|\b[a-z0-9-]+\.(?:com|net|org|io|xyz|top|click|link|ru|cn|"
                  r"info|biz|me|co|gg|app|site|online|live|shop|ly|to)\b(?:/[^\s]*)?", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")
_SHORTENERS = {"bit.ly", "tinyurl.com", "t.co", "goo.gl", "cutt.ly", "is.gd", "rb.gy", "ow.ly", "shorturl.at"}
_INVITES = re.compile(r"t\.me/(?:joinchat|\+)|chat\.whatsapp\.com|discord\.gg", re.IGNORECASE)
PATTERNS: dict[str, tuple[re.Pattern[str], float]] = {
    "crypto": (re.compile(r"\b(?:bitcoin|btc|crypto|usdt|eth(?:ereum)?|forex|binary options|airdrop|nft mint|"
                          r"trading signals?|pump|token presale|wallet address|100x|doubl(?:e|ing) your)\b"), 0.45),
    "money_promise": (re.compile(r"\b(?:earn|make|made|profit)\b.{0,20}(?:\$|usd|€|dollars?|per (?:day|week)|"
                                 r"daily|a day|weekly)|\b(?:passive income|get rich|financial freedom|"
                                 r"investment (?:plan|opportunity)|guaranteed (?:profit|returns?))\b"), 0.45),
    "follow4follow": (re.compile(r"\b(?:follow ?(?:4|for) ?follow|f4f|sub ?(?:4|for) ?sub|l4l|like ?for ?like|"
                                 r"follow (?:me|back|my (?:page|account|channel))|check (?:out )?my (?:profile|page|"
                                 r"channel|bio))\b"), 0.5),
    "phishing": (re.compile(r"\b(?:verify|confirm|unlock|restore|validate)\b.{0,25}\b(?:account|wallet|password|"
                            r"card|identity|login)\b|\b(?:your account (?:will be|has been) (?:suspended|locked|"
                            r"closed)|claim (?:your )?(?:prize|reward|gift)|you(?:'ve| have)? won|seed phrase|"
                            r"private key|log ?in here)\b"), 0.55),
    "contact_me": (re.compile(r"\b(?:dm|inbox|message|text|whatsapp|telegram) me\b|\bcontact (?:me|admin) "
                              r"(?:on|via)\b"), 0.25),
    "urgency": (re.compile(r"\b(?:act now|limited (?:time|offer|spots)|only today|hurry|last chance)\b"), 0.2),
    "giveaway_scam": (re.compile(r"\b(?:free|giving away)\b.{0,20}\b(?:iphone|gift ?cards?|bitcoin|crypto|"
                                 r"money|cash|followers)\b"), 0.4),
}


def links(text: str) -> list[str]:
    """Host names of the links in `text` (lower case, no "www."). An email address is not a link: a
    customer who writes "ana@example.com" as the answer to "which email did you order with?" is not
    advertising example.com."""
    hosts = []
    for m in _URL.findall(_EMAIL.sub(" ", text)):
        u = m if "://" in m else "http://" + m
        host = (urlparse(u).hostname or "").lower().removeprefix("www.")
        if host:
            hosts.append(host)
    return hosts


def host_allowed(host: str, allow: set[str]) -> bool:
    return any(host == a or host.endswith("." + a) for a in allow)


def spam_score(normalized: str, raw: str, allowed_hosts: set[str] | None = None) -> tuple[float, list[str]]:
    """(score in [0, 1], names of the patterns that fired) for one message."""
    fired: list[str] = []
    score = 0.0
    for name, (pat, weight) in PATTERNS.items():
        if pat.search(normalized):
            fired.append(name)
            score += weight
    hosts = [h for h in links(raw) if not host_allowed(h, allowed_hosts or set())]
    if hosts:
        fired.append("link")
        score += 0.2
        if any(h in _SHORTENERS for h in hosts) or _INVITES.search(raw):
            fired.append("shortener_or_invite")
            score += 0.3
        if fired and any(f in fired for f in ("crypto", "money_promise", "phishing", "giveaway_scam")):
            fired.append("scam_link")
            score += 0.3
    return min(1.0, round(score, 3)), fired


def count_recent(normalized: str, recent: list[tuple[str, float]], now: float, window_s: float) -> tuple[int, int]:
    """(messages in the window including this one, earlier copies of this text in the window) from
    the sender's earlier messages `recent` = [(normalised text, arrival time in seconds)]."""
    inside = [t for t, at in recent if now - at <= window_s]
    return len(inside) + 1, sum(1 for t in inside if t == normalized)


@dataclass
class FloodTracker:
    """Recent messages per (chat, sender): how many in `window_s`, and how often the same text."""

    window_s: float = 60.0
    max_senders: int = 50_000
    _seen: dict[tuple[str, str], deque[tuple[float, str]]] = field(default_factory=dict)

    def observe(self, chat: str, sender: str, normalized: str, now: float | None = None) -> tuple[int, int]:
        """Record one message; return (messages in the window, repeats of this text in the window)."""
        now = time.monotonic() if now is None else now
        key = (chat, sender)
        q = self._seen.get(key)
        if q is None:
            if len(self._seen) >= self.max_senders:
                self._seen.pop(next(iter(self._seen)))
            q = self._seen[key] = deque(maxlen=200)
        while q and now - q[0][0] > self.window_s:
            q.popleft()
        digest = hashlib.blake2b(normalized.encode("utf-8", "replace"), digest_size=8).hexdigest()
        repeats = sum(1 for _, d in q if d == digest)
        q.append((now, digest))
        return len(q), repeats
