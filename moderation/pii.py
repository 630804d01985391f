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


#: regions whose national phone formats are understood (config `moderation.phone_regions`)
DEFAULT_PHONE_REGIONS = ("NL", "DE", "ES", "FR", "GB", "US")
#: a number right after one of these words is an identifier, never a phone or a card
_ID_CONTEXT = re.compile(r"\b(?:order|orders|pu?rcha\w*|bestel\w*|bestell\w*|pedido|commande|tracking|track|trace|"
                         r"parcel|package|shipment|imei|serial|s/n|sn|invoice|ticket|ref|reference|case|"
                         r"firmware|version|ver|model|ip)\b(?:\s*(?:number|no\.?|nr\.?|nummer|code|id|is|:|#))*"
                         r"\s*[:#]?\s*$", re.IGNORECASE)
_DATE = re.compile(r"(?<!\d)(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})(?!\d)")
_DOTTED = re.compile(r"(?<![\d.])\d+(?:\.\d+){2,}(?::\d+)?(?![\d.])")  # versions 1.2.3, IPs 127.0.0.1:5055
#: issuer prefixes (IIN ranges) of the card networks, and their lengths
_CARD_IIN = re.compile(r"^(?:4\d{12}(?:\d{3}){0,2}|5[1-5]\d{14}|2(?:2[2-9]|[3-6]\d|7[01]|720)\d{12}|"
                       r"3[47]\d{13}|3(?:0[0-5]|[68]\d)\d{11,16}|6(?:011|4[4-9]\d|5\d\d)\d{12,15}|"
                       r"35(?:2[89]|[3-8]\d)\d{12,15}|62\d{14,17})$")
_CARD_GROUPS = {(4, 4, 4, 4), (4, 4, 4, 4, 3), (4, 6, 5), (4, 6, 4), (4, 4, 4, 1), (4, 4, 4, 4, 1, 2)}


def _near_id_word(text: str, start: int) -> bool:
    return bool(_ID_CONTEXT.search(text[max(0, start - 40):start]))


def is_card_number(candidate: str, text: str = "", start: int = 0) -> bool:
    """A payment card, not an IMEI (15 digits, "IMEI" nearby), an order or tracking number: Luhn-valid,
    a card network's prefix and length, grouped the way cards are printed (or not grouped)."""
    digits = re.sub(r"\D", "", candidate)
    if not 13 <= len(digits) <= 19 or not luhn_ok(digits) or not _CARD_IIN.match(digits):
        return False
    groups = tuple(len(g) for g in re.split(r"[ -]", candidate.strip()) if g)
    if len(groups) > 1 and groups not in _CARD_GROUPS:
        return False
    return not (text and _near_id_word(text, start))


def _phones(text: str, regions: tuple[str, ...] | list[str], skip: list[tuple[int, int]]) -> int:
    try:
        import phonenumbers
    except ImportError:  # pragma: no cover - a declared dependency; the plain pattern is the fallback
        return len([m for m in _PHONE.finditer(text) if 8 <= len(re.sub(r"\D", "", m.group())) <= 15])
    spans: set[tuple[int, int]] = set()
    for region in regions or DEFAULT_PHONE_REGIONS:
        for leniency in (phonenumbers.Leniency.VALID, phonenumbers.Leniency.POSSIBLE):
            for m in phonenumbers.PhoneNumberMatcher(text, region.upper(), leniency=leniency):
                if leniency == phonenumbers.Leniency.POSSIBLE and not re.match(r"\+|00[1-9]", m.raw_string):
                    continue  # only an explicit international number may be merely "possible"
                if len(re.sub(r"\D", "", m.raw_string)) < 8:
                    continue
                if any(a < m.end and m.start < b for a, b in skip) or _near_id_word(text, m.start):
                    continue
                spans.add((m.start, m.end))
    # one number matched in several regions (or twice, overlapping) counts once
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return len(merged)


def find_pii(text: str, *, regions: tuple[str, ...] | list[str] = DEFAULT_PHONE_REGIONS,
             order_pattern: re.Pattern[str] | str | None = None) -> dict[str, int]:
    """Kinds of personal data found in `text` and how many of each (empty: none). Dates, versions, IP
    addresses, IMEIs, order numbers (`order_pattern`, the brand's format; `VT-` + 6 digits by default)
    and numbers right after "order", "tracking", "IMEI"... are neither phones nor cards."""
    found: dict[str, int] = {}
    text = text[:10_000]
    order_rx = re.compile(order_pattern, re.IGNORECASE) if isinstance(order_pattern, str) else (order_pattern or _ORDER)
    rest = order_rx.sub(lambda m: " " * len(m.group()), text)
    emails = _EMAIL.findall(rest)
    if emails:
        found["email"] = len(emails)
        rest = _EMAIL.sub(lambda m: " " * len(m.group()), rest)
    ibans = [m for m in _IBAN.findall(rest) if iban_ok(m)]
    if ibans:
        found["iban"] = len(ibans)
        for m in ibans:
            rest = rest.replace(m, " " * len(m))
    cards = [m for m in _CARD.finditer(rest) if is_card_number(m.group(), rest, m.start())]
    if cards:
        found["card"] = len(cards)
    skip = [(m.start(), m.end()) for m in cards]
    skip += [(m.start(), m.end()) for rx in (_DATE, _DOTTED) for m in rx.finditer(rest)]
    phones = _phones(rest, regions, skip)
    if phones:
        found["phone"] = phones
    return found
