"""Values any database accepts, and names safe to repeat.

`storable` is applied to every text field stored from a platform (message text, names, ids,
payload strings), so one odd update (a lone surrogate in a last name) can never be refused by the
database. `display_name` also drops what would make a repeated name misleading: bidi overrides and
isolates, zero-width and other control / format characters."""

from __future__ import annotations

import unicodedata
from typing import Any

#: right-to-left / left-to-right embeddings, overrides and isolates (they reorder what follows)
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def storable(text: str) -> str:
    """Text any database accepts: lone surrogates and NUL become U+FFFD; nothing else is lost."""
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        text = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return text.replace("\x00", "\ufffd")


def storable_value(value: Any) -> Any:
    """`storable` on every string in a JSON-like value (keys included)."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable_value(k): storable_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable_value(v) for v in value]
    return value


def display_name(name: str | None) -> str | None:
    """A fan's name as fancare repeats it (greetings, Slack): storable, without bidi controls,
    control or format characters (Cc/Cf, e.g. zero-width; the joiner of emoji sequences stays),
    whitespace runs collapsed."""
    if name is None:
        return None
    name = storable(name)
    kept = "".join(" " if c in "\t\n\r\x0b\x0c" else c for c in name
                   if c not in BIDI_CONTROLS and (c in "\t\n\r\x0b\x0c\u200d"
                                                  or unicodedata.category(c) not in ("Cc", "Cf", "Co", "Cs")))
    kept = " ".join(kept.split())
    return kept or None
