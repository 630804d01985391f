"""`fancare data validate`: problems a trainer can fix, each with file and line."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from nlu.training_data import Example, TrainingData


@dataclass(frozen=True)
class Problem:
    level: str  # "error" | "warning"
    message: str
    file: str | None = None
    line: int | None = None
    key: str | None = None

    def describe(self) -> str:
        where = (self.file or "<data>") + (f":{self.line}" if self.line else "")
        key = f" {self.key}:" if self.key else ""
        return f"{self.level}: {where}:{key} {self.message}"


def validate(td: TrainingData, *, min_examples: int = 5, known_entities: set[str] | None = None) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, list[tuple[str, str | None, int | None]]] = defaultdict(list)
    for ex in td.examples:
        seen[ex.text.strip().casefold()].append((ex.intent, ex.file, ex.line))
        if not ex.text.strip():
            problems.append(Problem("error", "empty example", ex.file, ex.line, f"intent {ex.intent}"))
    for text, where in seen.items():
        intents = {w[0] for w in where}
        if len(intents) > 1:
            places = ", ".join(f"{w[0]} ({w[1]}:{w[2]})" for w in where)
            problems.append(Problem("error", f"example {text!r} is filed under several intents: {places}",
                                    where[1][1], where[1][2]))
        elif len(where) > 1:
            problems.append(Problem("warning", f"duplicate example {text!r} in intent {where[0][0]}",
                                    where[1][1], where[1][2]))
    counts = Counter(ex.intent for ex in td.examples)
    first: dict[str, Example] = {}
    for ex in td.examples:
        first.setdefault(ex.intent, ex)
    for intent, n in sorted(counts.items()):
        if n < min_examples:
            ex = first[intent]
            problems.append(Problem("error", f"intent has {n} example(s); at least {min_examples} needed",
                                    ex.file, ex.line, f"intent {intent}"))
    if known_entities is not None:
        declared = known_entities | set(td.regexes) | set(td.lookups)
        for ex in td.examples:
            for s in ex.entities:
                if s.entity not in declared:
                    problems.append(Problem("error", f"unknown entity {s.entity!r} (declare it in the domain's "
                                                     "'entities' or add a regex/lookup)", ex.file, ex.line,
                                            f"intent {ex.intent}"))
    if len(counts) < 2:
        problems.append(Problem("error", "at least two intents are needed to train a classifier"))
    return problems
