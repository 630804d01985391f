"""Telegram's 4096-unit message limit, counted the way Telegram counts: in UTF-16 code units.

An emoji outside the BMP is two units (a surrogate pair); splitting between them, or inside a
ZWJ sequence, a flag or a skin-tone modifier, would show the fan broken glyphs. So we cut only at
code-point boundaries that do not sit inside such a cluster, preferring a newline, then a space.
"""

from __future__ import annotations

import unicodedata

TELEGRAM_MAX_UNITS = 4096

_ZWJ = "\u200d"


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)


def _joins_previous(c: str) -> bool:
    """True for a code point that belongs to the glyph before it (cutting before it breaks it)."""
    o = ord(c)
    return (c == _ZWJ or 0xFE00 <= o <= 0xFE0F or 0x1F3FB <= o <= 0x1F3FF or 0xE0020 <= o <= 0xE007F
            or 0x20E3 == o or unicodedata.combining(c) != 0)


def _is_regional_indicator(c: str) -> bool:
    return 0x1F1E6 <= ord(c) <= 0x1F1FF


def _safe_cut(text: str, i: int) -> bool:
    """May the text be cut before index `i` (a code-point index, 0 < i < len)?"""
    if _joins_previous(text[i]) or text[i - 1] == _ZWJ:
        return False
    if _is_regional_indicator(text[i]) and _is_regional_indicator(text[i - 1]):
        # a flag is a pair of regional indicators: count the run to see if i is mid-pair
        j = i
        while j > 0 and _is_regional_indicator(text[j - 1]):
            j -= 1
        return (i - j) % 2 == 0
    return True


def split_message(text: str, limit: int = TELEGRAM_MAX_UNITS) -> list[str]:
    """Split `text` into parts of at most `limit` UTF-16 units, never inside a glyph.

    Prefers the last newline, then the last space, in the second half of a full part; the
    separator stays with the earlier part so that joining the parts gives back the text.
    """
    if utf16_len(text) <= limit:
        return [text]
    parts: list[str] = []
    start = 0
    n = len(text)
    while start < n:
        units = 0
        end = start
        while end < n:
            w = 2 if ord(text[end]) > 0xFFFF else 1
            if units + w > limit:
                break
            units += w
            end += 1
        if end >= n:
            parts.append(text[start:])
            break
        cut = end
        while cut > start + 1 and not _safe_cut(text, cut):
            cut -= 1
        if cut <= start + 1 and not _safe_cut(text, cut):
            cut = end  # one cluster longer than the limit: nothing safe, cut at the limit
        half = start + (cut - start) // 2
        for sep in ("\n", " "):
            k = text.rfind(sep, half, cut)
            if k != -1:
                cut = k + 1
                break
        parts.append(text[start:cut])
        start = cut
    return parts
