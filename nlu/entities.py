"""Entities from regexes, lookup tables and synonyms (order numbers, emails, product names)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from nlu.training_data import TrainingData


@dataclass(frozen=True)
class Entity:
    entity: str
    value: str
    start: int
    end: int
    text: str
    extractor: str

    def as_dict(self) -> dict[str, Any]:
        return {"entity": self.entity, "value": self.value, "start": self.start, "end": self.end,
                "text": self.text, "extractor": self.extractor}


class EntityExtractor:
    """Rule-based extractor built from training data; picklable and deterministic."""

    def __init__(self, regexes: dict[str, list[str]], lookups: dict[str, list[str]],
                 synonyms: dict[str, str]) -> None:
        self.regexes = {k: list(v) for k, v in regexes.items()}
        self.lookups = {k: sorted(set(v), key=len, reverse=True) for k, v in lookups.items()}
        self.synonyms = dict(synonyms)
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

    def _compile(self) -> None:
        self._regex = [(name, re.compile(p, re.IGNORECASE)) for name, ps in self.regexes.items() for p in ps]
        self._lookup = []
        for name, values in self.lookups.items():
            vals = [re.escape(v.strip()) for v in values if v.strip()]
            if vals:
                self._lookup.append((name, re.compile(r"(?<!\w)(" + "|".join(vals) + r")(?!\w)", re.IGNORECASE)))

    def __getstate__(self) -> dict[str, Any]:
        return {"regexes": self.regexes, "lookups": self.lookups, "synonyms": self.synonyms}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["regexes"], state["lookups"], state["synonyms"])  # type: ignore[misc]

    def normalise(self, text: str) -> str:
        return self.synonyms.get(text.casefold(), self.synonyms.get(text.lower(), text))

    def extract(self, text: str) -> list[Entity]:
        found: list[Entity] = []
        for name, rx in self._regex:
            for m in rx.finditer(text):
                if m.end() > m.start():
                    found.append(Entity(name, self.normalise(m.group(0)), m.start(), m.end(), m.group(0), "regex"))
        for name, rx in self._lookup:
            for m in rx.finditer(text):
                value = self.normalise(m.group(0))
                if value == m.group(0):
                    value = self._canonical_case(name, m.group(0))
                found.append(Entity(name, value, m.start(), m.end(), m.group(0), "lookup"))
        # Longest span wins; regex before lookup on ties; no overlaps.
        found.sort(key=lambda e: (-(e.end - e.start), e.extractor != "regex", e.start))
        chosen: list[Entity] = []
        for e in found:
            if all(e.end <= c.start or e.start >= c.end for c in chosen):
                chosen.append(e)
        return sorted(chosen, key=lambda e: e.start)

    def _canonical_case(self, name: str, text: str) -> str:
        for v in self.lookups.get(name, []):
            if v.casefold() == text.casefold():
                return v
        return text
