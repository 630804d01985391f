"""Amounts of money fans write ("€49.99", "49,99 €", "$20", "20 dollars", "1.299,00 EUR") as
{value, currency}: a decimal with two places and an ISO 4217 code.

A number alone is never an amount (order numbers, quantities, model numbers are numbers too): a
currency symbol, code or word must touch it. The decimal separator is read from the number itself,
because fans mix conventions: with both "." and "," the last one is the decimal point; with one of
them, two digits after it make it decimal ("49,99") and three make it a thousands separator
("1.299"). "$" is read as USD (a brand selling in CAD or AUD says so with the code).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_SYMBOLS = {"€": "EUR", "$": "USD", "us$": "USD", "£": "GBP", "¥": "JPY", "₹": "INR", "₺": "TRY", "₽": "RUB",
            "zł": "PLN", "r$": "BRL", "chf": "CHF", "fr.": "CHF"}
_CODES = ("EUR", "USD", "GBP", "CHF", "PLN", "TRY", "RUB", "INR", "BRL", "JPY", "SEK", "NOK", "DKK", "CAD",
          "AUD", "MXN")
_WORDS = {
    "euro": "EUR", "euros": "EUR", "eur": "EUR", "eu": "EUR", "евро": "EUR",
    "dollar": "USD", "dollars": "USD", "dólar": "USD", "dólares": "USD", "dolares": "USD", "dollari": "USD",
    "bucks": "USD", "pound": "GBP", "pounds": "GBP", "quid": "GBP", "libras": "GBP", "sterline": "GBP",
    "franken": "CHF", "francs": "CHF", "złotych": "PLN", "zloty": "PLN", "zł": "PLN", "pln": "PLN",
    "lira": "TRY", "tl": "TRY", "рублей": "RUB", "руб": "RUB", "rupees": "INR", "rs": "INR", "reais": "BRL",
    "real": "BRL",
}
_WORDS.pop("eu")  # Portuguese "I"
_WORDS.pop("real")  # "a real problem"

_NUMBER = r"(?P<num>\d{1,3}(?:[.,\s\u00a0\u202f']\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)"
_SYM = r"(?P<sym>" + "|".join(sorted(map(re.escape, _SYMBOLS), key=len, reverse=True)) + ")"
_AFTER = r"(?P<word>" + "|".join(sorted(map(re.escape, [*_WORDS, *(c.lower() for c in _CODES)]),
                                           key=len, reverse=True)) + ")"
_BEFORE_CODE = r"(?P<code>" + "|".join(c.lower() for c in _CODES) + ")"

_PATTERNS = [
    re.compile(r"(?<![\w$€£¥₹₺₽])" + _SYM + r"\s?" + _NUMBER + r"(?![\d\w])", re.IGNORECASE),
    re.compile(r"(?<![\w.,])" + _NUMBER + r"\s?(?:" + _SYM + r"|" + _AFTER + r")(?!\w)", re.IGNORECASE),
    re.compile(r"(?<!\w)" + _BEFORE_CODE + r"\s?" + _NUMBER + r"(?![\d\w])", re.IGNORECASE),
]
_CUE = re.compile(r"\d")


@dataclass(frozen=True)
class AmountMention:
    start: int
    end: int
    text: str
    amount: Decimal
    currency: str

    @property
    def value(self) -> str:
        """The entity value: "49.99 EUR" (two decimal places, ISO code), what the test set annotates."""
        return f"{self.amount:.2f} {self.currency}"


def parse_number(raw: str) -> Decimal | None:
    """'1.299,00' -> 1299.00, '49,99' -> 49.99, '1,299' -> 1299, '20' -> 20; None if unreadable."""
    s = re.sub(r"[\s\u00a0\u202f']", "", raw)
    if "," in s and "." in s:
        dec = "," if s.rfind(",") > s.rfind(".") else "."
        s = s.replace("." if dec == "," else ",", "").replace(dec, ".")
    elif "," in s or "." in s:
        sep = "," if "," in s else "."
        head, _, tail = s.rpartition(sep)
        s = s.replace(sep, "") if len(tail) == 3 else head.replace(sep, "") + "." + tail
    try:
        return Decimal(s)
    except InvalidOperation:
        return None


def find_amounts(text: str) -> list[AmountMention]:
    """Every amount in `text` (overlapping candidates included; the extractor keeps the longest)."""
    if not _CUE.search(text):
        return []
    out: list[AmountMention] = []
    for rx in _PATTERNS:
        for m in rx.finditer(text):
            groups = m.groupdict()
            if groups.get("sym"):
                cur = _SYMBOLS[groups["sym"].casefold()]
            elif groups.get("word"):
                w = groups["word"].casefold()
                cur = _WORDS.get(w) or w.upper()
            else:
                cur = groups["code"].upper()
            num = parse_number(m["num"])
            if num is not None:
                out.append(AmountMention(m.start(), m.end(), m.group(0), num, cur))
    return out
