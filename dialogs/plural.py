"""Which plural form a number takes, per language: the CLDR plural categories of the demo languages.

A phrase that counts something ("about {minutes} minutes", "{voters} voters") needs a different
word form by number, and the rule differs by language: English has one and other; Polish and
Russian also few and many (2-4 and 5+, by the last digits); Arabic zero, one, two, few (3-10),
many (11-99) and other. A translator writes the forms a language needs (dialogs/phrases.py
`COUNTED`), and `category` says which one a number takes. The rules are CLDR's (unicode.org
"Language Plural Rules") for integers; a fraction ("1.5 hours") is `other` in every language here
except French and Portuguese, whose "one" covers 0 <= n < 2.
"""

from __future__ import annotations

CATEGORIES = ("zero", "one", "two", "few", "many", "other")


def _number(n: int | float | str) -> tuple[float, bool]:
    """(value, is an integer) of a count as the code fills it (3, 2.5 or the text "2.5")."""
    value = float(str(n).replace(",", "."))
    return value, value.is_integer()


def category(language: str | None, n: int | float | str) -> str:
    """The CLDR plural category of `n` in `language` ("ar", 3 -> "few"); `other` when unsure."""
    try:
        value, whole = _number(n)
    except ValueError:
        return "other"
    i = int(value)
    lang = (language or "").lower()[:2]
    if lang in ("fr", "pt"):  # 0 and 1 (and 1.5) are "one": "1,5 heure"
        return "one" if 0 <= value < 2 else "other"
    if lang == "hi":
        return "one" if 0 <= value <= 1 else "other"
    if not whole:
        return "other"
    if lang == "ar":
        if i == 0:
            return "zero"
        if i == 1:
            return "one"
        if i == 2:
            return "two"
        if 3 <= i % 100 <= 10:
            return "few"
        if 11 <= i % 100 <= 99:
            return "many"
        return "other"
    if lang == "ru":
        if i % 10 == 1 and i % 100 != 11:
            return "one"
        if 2 <= i % 10 <= 4 and not 12 <= i % 100 <= 14:
            return "few"
        return "many"
    if lang == "pl":
        if i == 1:
            return "one"
        if 2 <= i % 10 <= 4 and not 12 <= i % 100 <= 14:
            return "few"
        return "many"
    return "one" if i == 1 else "other"  # en, es, de, it, nl, tr and any other
