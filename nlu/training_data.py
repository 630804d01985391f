"""In-memory training data: what Rasa's NLU YAML and fancare's CSV files both become."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class EntitySpan:
    start: int
    end: int
    entity: str
    value: str
    text: str


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple[EntitySpan, ...] = ()
    file: str | None = None
    line: int | None = None


@dataclass
class TrainingData:
    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)  # lower-cased variant -> canonical value
    regexes: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)

    def merge(self, other: TrainingData) -> None:
        self.examples.extend(other.examples)
        self.synonyms.update(other.synonyms)
        for k, v in other.regexes.items():
            self.regexes.setdefault(k, []).extend(p for p in v if p not in self.regexes.get(k, []))
        for k, v in other.lookups.items():
            self.lookups.setdefault(k, []).extend(x for x in v if x not in self.lookups.get(k, []))

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})

    @property
    def entity_types(self) -> list[str]:
        names = {s.entity for e in self.examples for s in e.entities}
        return sorted(names | set(self.regexes) | set(self.lookups))

    def texts_and_labels(self) -> tuple[list[str], list[str]]:
        return [e.text for e in self.examples], [e.intent for e in self.examples]

    def fingerprint(self) -> str:
        """Content hash: changes whenever anything a model learns from changes."""
        body = {
            "examples": sorted((e.text, e.intent, [(s.start, s.end, s.entity, s.value) for s in e.entities])
                               for e in self.examples),
            "synonyms": sorted(self.synonyms.items()),
            "regexes": sorted((k, sorted(v)) for k, v in self.regexes.items()),
            "lookups": sorted((k, sorted(v)) for k, v in self.lookups.items()),
        }
        return hashlib.sha256(json.dumps(body, ensure_ascii=False).encode()).hexdigest()[:16]
