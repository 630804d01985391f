"""Entities: regexes, lookup tables and synonyms from the training data (order numbers, emails,
product names), fuzzy product names (nlu/fuzzy_lookup.py), dates (nlu/dates.py) and amounts with
currency (nlu/amounts.py).

The order-number regex is the brand's `orders.number_pattern` when the app builds the model
(`use_pattern`), and its value the canonical `orders.number_format` ("vt 482913" -> "VT-482913"),
so the entity a flow collects is the number orders are looked up by.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from nlu.amounts import find_amounts
from nlu.dates import find_dates
from nlu.fuzzy_lookup import ARTICLES, FuzzyLookup
from nlu.training_data import TrainingData

DATE, AMOUNT = "date", "amount"
# A bare lower-case name that is one word of the product's own name ("pulse", "arc", "dock", "beam",
# "halo", "nova") is also an ordinary word ("my pulse is fast", "a beam of light"): it counts as the
# product only when written with a capital, or right after an article or the brand word ("the dock
# doesn't fit", "el arc"). "my dock is broken" thus has no product: the flow asks which one.
_PREV_WORD = re.compile(r"(\w+)\W*$")
_LEADING_ARTICLE = re.compile(r"(?:" + "|".join(sorted(ARTICLES)) + r")\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Entity:
    entity: str
    value: str
    start: int
    end: int
    text: str
    extractor: str
    score: float = 1.0  # 1.0 for exact matches; fuzzy names: 1 - edits / length
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)  # amount: amount, currency

    def as_dict(self) -> dict[str, Any]:
        return {"entity": self.entity, "value": self.value, "start": self.start, "end": self.end,
                "text": self.text, "extractor": self.extractor, "score": self.score, **self.extra}


def lookup_pattern(values: list[str]) -> re.Pattern[str]:
    """One case-insensitive pattern for a lookup table's values, whole words only, the longest value
    first so "Voltora Buds Pro" wins over "Buds Pro"; group 1 is the value as written."""
    vals = [re.escape(v.strip()) for v in sorted(values, key=lambda v: len(v.strip()), reverse=True) if v.strip()]
    return re.compile(r"(?<!\w)(" + "|".join(vals) + r")(?!\w)", re.IGNORECASE)


class EntityExtractor:
    """Rule-based extractor built from training data; picklable and deterministic."""

    def __init__(self, regexes: dict[str, list[str]], lookups: dict[str, list[str]],
                 synonyms: dict[str, str], formats: dict[str, str] | None = None) -> None:
        self.regexes = {k: list(v) for k, v in regexes.items()}
        self.lookups = {k: sorted(set(v), key=len, reverse=True) for k, v in lookups.items()}
        self.synonyms = dict(synonyms)
        # entity -> canonical form of a regex match, "{digits}" being its first capture group
        self.formats = dict(formats or {})
        self._compile()

    @classmethod
    def from_training_data(cls, td: TrainingData) -> EntityExtractor:
        lookups = {k: list(v) for k, v in td.lookups.items()}
        # Annotated values of entities without a regex teach the lookup (like Rasa's entity examples).
        for ex in td.examples:
            for s in ex.entities:
                if s.entity not in td.regexes:
                    lookups.setdefault(s.entity, []).append(s.text)
        # A synonym variant of a looked-up value is itself a mention of that entity.
        for variant, canonical in td.synonyms.items():
            for values in lookups.values():
                if canonical.casefold() in {v.casefold() for v in values}:
                    values.append(variant)
        return cls(td.regexes, lookups, td.synonyms)

    def use_pattern(self, entity: str, pattern: str, canonical: str | None = None) -> None:
        """Replace the training data's regex for `entity` with the brand's (config, e.g.
        `orders.number_pattern`); `canonical` ("VT-{digits}") rewrites each match's value."""
        try:
            rx = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"entity {entity!r}: not a valid regular expression {pattern!r}: {exc}") from None
        if rx.groups > 1:
            raise ValueError(f"entity {entity!r}: pattern {pattern!r} has more than one capture group")
        self.regexes[entity] = [pattern]
        if canonical:
            self.formats[entity] = canonical
        else:
            self.formats.pop(entity, None)
        self._compile()

    def _compile(self) -> None:
        self._regex = [(name, re.compile(p, re.IGNORECASE)) for name, ps in self.regexes.items() for p in ps]
        self._lookup = []
        self._fuzzy: list[tuple[str, FuzzyLookup]] = []
        self._name_words: dict[str, set[str]] = {}
        self._brands: set[str] = set()
        self._variants = {name: {v.strip().casefold() for v in values} for name, values in self.lookups.items()}
        for name, values in self.lookups.items():
            if any(v.strip() for v in values):
                self._lookup.append((name, lookup_pattern(values)))
                names = {v: self._lookup_value(name, v) for v in values if v.strip()}
                fl = FuzzyLookup(names)
                self._fuzzy.append((name, fl))
                self._name_words[name] = {w.casefold() for c in names.values() for w in c.split()} - {fl.brand or ""}
                if fl.brand:
                    self._brands.add(fl.brand)

    def __getstate__(self) -> dict[str, Any]:
        return {"regexes": self.regexes, "lookups": self.lookups, "synonyms": self.synonyms,
                "formats": self.formats}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["regexes"], state["lookups"], state["synonyms"],  # type: ignore[misc]
                      state.get("formats"))

    def normalise(self, text: str) -> str:
        return self.synonyms.get(text.casefold(), self.synonyms.get(text.lower(), text))

    def _lookup_value(self, name: str, text: str) -> str:
        value = self.normalise(text)
        return self._canonical_case(name, text) if value == text else value

    def extract(self, text: str, language: str | None = None, today: date | None = None) -> list[Entity]:
        """Entities in `text`; dates are resolved relative to `today` (the message's date, UTC
        today when not given) and read French "hier" only when `language` is "fr"."""
        exact: list[Entity] = []
        for name, rx in self._regex:
            for m in rx.finditer(text):
                if m.end() > m.start():
                    exact.append(Entity(name, self._regex_value(name, m), m.start(), m.end(), m.group(0), "regex"))
        for name, rx in self._lookup:
            for m in rx.finditer(text):
                start, matched = m.start(), m.group(0)
                # "the arc speaker" is written as a variant, but the name is "arc speaker": spans hold no article
                head = _LEADING_ARTICLE.match(matched)
                if head and matched[head.end():].casefold() in self._variants[name]:
                    start, matched = start + head.end(), matched[head.end():]
                if self._weak(name, matched, text[:start]):
                    continue
                exact.append(Entity(name, self._lookup_value(name, matched), start, m.end(), matched, "lookup"))
        for d in find_dates(text, today or datetime.now(UTC).date(), language):
            exact.append(Entity(DATE, d.value, d.start, d.end, d.text, "date"))
        for a in find_amounts(text):
            exact.append(Entity(AMOUNT, a.value, a.start, a.end, a.text, "amount",
                                extra={"amount": float(a.amount), "currency": a.currency}))
        fuzzy = [Entity(name, h.value, h.start, h.end, h.text, "fuzzy", h.score)
                 for name, fl in self._fuzzy for h in fl.find(text)]
        exact += [e for e in fuzzy if e.score == 1.0]  # "Pulse-3", "nova-x": the name, spelt apart
        # Longest span wins; regex before the rest on ties; no overlaps. Fuzzy names fill the gaps, best score first.
        exact.sort(key=lambda e: (-(e.end - e.start), e.extractor != "regex", e.start))
        chosen: list[Entity] = []
        for e in exact:
            if all(e.end <= c.start or e.start >= c.end for c in chosen):
                chosen.append(e)
        fuzzy.sort(key=lambda e: (-e.score, -(e.end - e.start), e.start))
        for e in fuzzy:
            if all(e.end <= c.start or e.start >= c.end for c in chosen):
                chosen.append(e)
        return sorted(chosen, key=lambda e: e.start)

    def _regex_value(self, name: str, m: re.Match[str]) -> str:
        template = self.formats.get(name)
        if template is None:
            return self.normalise(m.group(0))
        core = m.group(1) if m.re.groups and m.group(1) is not None else m.group(0)
        return template.replace("{digits}", core.strip().upper())

    def _weak(self, name: str, matched: str, before: str) -> bool:
        """A bare ordinary-word name without a capital, an article or the brand word before it."""
        if not matched.isalpha() or not matched.islower() or matched not in self._name_words.get(name, set()):
            return False
        prev = _PREV_WORD.search(before)
        return prev is None or prev.group(1).casefold() not in ARTICLES | self._brands

    def _canonical_case(self, name: str, text: str) -> str:
        for v in self.lookups.get(name, []):
            if v.casefold() == text.casefold():
                return v
        return text
