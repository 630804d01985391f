"""Personal data in a fan's public message: e-mail addresses, phone numbers, payment cards (Luhn
checked), IBANs (mod-97 checked). Found values are never stored or logged, only their kinds and
counts, so that the signal itself cannot leak what it found."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"\b[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b", re.IGNORECASE)
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\d[\d\s().-]{7,17}\d(?!\w)")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]){11,30}\b", re.IGNORECASE)
_ORDER = re.compile(r"\bVT[- ]?\d{6}\b", re.IGNORECASE)  # the brand's own order numbers are not PII


def luhn_ok(digits: str) -> bool:
    """The payment-card check digit (ISO/IEC 7812)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to numbers, mod 97 == 1."""
    s = re.sub(r"\s", "", iban).upper()
    if not 15 <= len(s) <= 34 or not s[:2].isalpha() or not s[2:4].isdigit():
        return False
    rearranged = s[4:] + s[:4]
    try:
        return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1
    except ValueError:
        return False


def find_pii(text: str) -> dict[str, int]:
    """Kinds of personal data found in `text` and how many of each (empty: none)."""
    found: dict[str, int] = {}
    text = text[:10_000]
    rest = _ORDER.sub(" ", text)
    emails = _EMAIL.findall(rest)
    if emails:
        found["email"] = len(emails)
        rest = _EMAIL.sub(" ", rest)
    ibans = [m for m in _IBAN.findall(rest) if iban_ok(m)]
    if ibans:
        found["iban"] = len(ibans)
        for m in ibans:
            rest = rest.replace(m, " ")
    cards = []
    for m in _CARD.findall(rest):
        digits = re.sub(r"\D", "", m)
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            cards.append(m)
    if cards:
        found["card"] = len(cards)
        for m in cards:
            rest = rest.replace(m, " ")
    phones = [m for m in _PHONE.findall(rest) if 8 <= len(re.sub(r"\D", "", m)) <= 15
              and not re.fullmatch(r"\d{4}", m.strip())]
    if phones:
        found["phone"] = len(phones)
    return found
