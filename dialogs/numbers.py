"""How a number with a fraction reads in the fan's language: "1.5" in English, "1,5" in German.

The demo's twelve languages, by CLDR's decimal symbol for Latin digits (unicode.org, "Number
Symbols"): a comma in es, de, fr, it, pt, nl, pl, tr and ru; a dot in en, ar and hi. Arabic is written
with Latin digits here (the translations say "حوالي 1.5 ساعة"), and CLDR's Latin-digit symbols for
Arabic use the dot. A language not listed keeps the dot, as English does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: languages whose decimal separator is a comma
DECIMAL_COMMA = frozenset({"es", "de", "fr", "it", "pt", "nl", "pl", "tr", "ru"})


def decimal_text(language: str | None, value: float) -> str:
    """`value` as the language writes it: (de, 1.5) -> "1,5"; whole numbers without a fraction ("2")."""
    text = f"{value:g}"
    return text.replace(".", ",") if (language or "").lower()[:2] in DECIMAL_COMMA else text


def localised(values: Mapping[str, Any], language: str | None) -> dict[str, Any]:
    """The placeholder values with each float written the language's way (other values as they are)."""
    return {k: decimal_text(language, v) if isinstance(v, float) else v for k, v in values.items()}
