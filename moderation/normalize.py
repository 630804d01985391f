"""Undo the tricks people use to slip past filters, before any signal is scored.

Zalgo (stacked combining marks), homoglyphs (Cyrillic "а" for Latin "a", fullwidth and
mathematical letters), leetspeak ("fr33 b1tc0in", "1d10t") and padded letters ("i.d.i.o.t",
"f r e e") all become plain lower-case text. The original text is kept for display and storage;
only scoring sees the normalised form, so a false match never alters what the fan wrote.
"""

from __future__ import annotations

import re
import unicodedata

# Cyrillic/Greek letters that look like Latin ones (NFKC does not map them).
_HOMOGLYPHS = str.maketrans({
    "а": "a", "в": "b", "с": "c", "е": "e", "ё": "e", "һ": "h", "і": "i", "ј": "j", "к": "k", "м": "m",
    "н": "h", "о": "o", "р": "p", "т": "t", "у": "y", "х": "x", "ѕ": "s", "ԁ": "d", "ɡ": "g", "ո": "n",
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "ω": "w", "ɪ": "i", "ʟ": "l", "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ɢ": "g",
    "ʜ": "h", "ᴊ": "j", "ᴋ": "k", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ᴛ": "t", "ᴜ": "u",
    "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z",
})
# Digits and symbols used as letters, only between or next to letters ("b1tc0in", "$cam").
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s", "!": "i",
         "|": "l", "+": "t", "€": "e"}
_TOKEN = re.compile(r"[a-z0-9@$!|+€]+")
_CODE = re.compile(r"[a-z]{1,3}\d{3,}|\d+[a-z]{1,2}")
_SPACED = re.compile(r"\b(?:[a-z][\s.\-_*]){3,}[a-z]\b")  # "f r e e", "i.d.i.o.t"
_REPEAT = re.compile(r"(.)\1{2,}")  # "sooooo" -> "soo"
_URL = re.compile(r"https?://\S+|www\.\S+|[\w.%+-]+@[\w-]+\.[\w.-]+", re.IGNORECASE)  # kept verbatim


def strip_marks(text: str) -> str:
    """Remove combining marks (zalgo) after compatibility decomposition; keeps base letters."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _deleet(match: re.Match[str]) -> str:
    """Fold leet characters in a token that also has letters ("b1tc0in" -> "bitcoin", "sh!t" ->
    "shit"); trailing "!!!" stays punctuation, and codes and numbers ("vt482913", "4k", "2024",
    "10pm", "@user") stay as they are."""
    word = match.group(0)
    if not any(c.isalpha() for c in word) or _CODE.fullmatch(word) or word.startswith("@"):
        return word
    head = word.rstrip("!|")
    return "".join(_LEET.get(c, c) for c in head) + word[len(head):]


def normalize(text: str, max_chars: int = 2000) -> str:
    """Lower-case, mark-free, homoglyph- and leet-folded text for scoring (URLs kept verbatim)."""
    if len(text) > 20_000:  # very long messages: the start and the end are what readers see
        text = text[:15_000] + " " + text[-5_000:]
    text = _REPEAT.sub(r"\1\1", text)  # emoji and letter floods first, so that the cut below keeps words
    urls = _URL.findall(text)
    body = _URL.sub(" \x00 ", text)
    body = strip_marks(body).lower().translate(_HOMOGLYPHS)
    body = _TOKEN.sub(_deleet, body)
    body = _SPACED.sub(lambda m: re.sub(r"[\s.\-_*]", "", m.group(0)), body)
    body = _REPEAT.sub(r"\1\1", body)
    for u in urls:
        body = body.replace("\x00", u.lower(), 1)
    return " ".join(body.split())[:max_chars]


def zalgo_ratio(text: str) -> float:
    """Share of combining marks among characters: high values are zalgo noise."""
    if not text:
        return 0.0
    decomposed = unicodedata.normalize("NFD", text)
    return sum(1 for c in decomposed if unicodedata.combining(c)) / len(decomposed)
