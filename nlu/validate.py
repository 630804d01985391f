"""`fancare data validate`: problems a trainer can fix, each with file and line."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dialogs.domain import SOURCE_LANGUAGE
from dialogs.translation_files import placeholders
from nlu.training_data import Example, TrainingData

if TYPE_CHECKING:
    from dialogs.domain import Domain
    from dialogs.translation_files import Translations
    from knowledge_base.articles import Article


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


# -- translations (`fancare data validate` on a multilingual brand) -----------------------------------

@dataclass(frozen=True)
class Coverage:
    """How much of the English source one language has: responses and help articles."""

    language: str
    responses: int
    responses_total: int
    articles: int
    articles_total: int

    def describe(self) -> str:
        def pct(n: int, total: int) -> str:
            return f"{n}/{total} ({100 * n / total:.0f}%)" if total else f"{n}/0"

        return (f"{self.language}: responses {pct(self.responses, self.responses_total)}, "
                f"articles {pct(self.articles, self.articles_total)}")


def translation_coverage(domain: Domain, articles: list[Article], languages: list[str]) -> list[Coverage]:
    """Per language in `languages`: responses answered in it / all responses, and English articles
    with a version in it / all English articles (English itself counts as complete)."""
    names = sorted(domain.responses)
    originals = [a for a in articles if a.translation_of is None and a.language == SOURCE_LANGUAGE]
    have: dict[str, set[str]] = defaultdict(set)  # original id -> languages it exists in
    for a in articles:
        have[a.group].add(a.language)
    out = []
    for lang in languages:
        n_resp = sum(1 for n in names if domain.variations_in(n, lang))
        n_art = sum(1 for a in originals if lang in have[a.id])
        out.append(Coverage(lang, n_resp, len(names), n_art, len(originals)))
    return out


def translation_problems(domain: Domain, translations: Translations, *, flow_names: set[str],
                         languages: list[str]) -> list[Problem]:
    """Warnings for translations that would read wrong: a response the source does not have, other
    `{slot}` placeholders or buttons than the English, a flow name no flow has, a language the brand
    does not list in `brand.languages`."""
    problems: list[Problem] = []
    for lang, lf in sorted(translations.files.items()):
        if lang not in languages:
            problems.append(Problem("warning", f"language {lang!r} is not in brand.languages "
                                               f"({', '.join(languages)}); it is never used", lf.file,
                                    lf.language_line, "language"))
        for name, variations in lf.responses.items():
            line = lf.response_lines.get(name)
            english = domain.variations_in(name, SOURCE_LANGUAGE) if name in domain.responses else []
            if not english:
                problems.append(Problem("warning", "no such response in the English source (domain or flows)",
                                        lf.file, line, name))
                continue
            slots = [placeholders(v.text) for v in english]
            may, must = set().union(*slots), set.intersection(*slots)
            payloads = {tuple(b.payload for b in v.buttons) for v in english}
            for i, v in enumerate(variations):
                vline = lf.variation_lines.get(name, [])[i:i + 1] or [line or 1]
                got = placeholders(v.text)
                if not must <= got <= may:
                    problems.append(Problem("warning", f"placeholders {_slots_text(got)} differ from the English "
                                                       f"{_slots_text(may)}", lf.file, vline[0], f"{name}[{i}]"))
                mine = tuple(b.payload for b in v.buttons)
                if mine not in payloads:
                    want = next(iter(payloads))
                    what = (f"{len(mine)} button(s) where English has {len(want)}" if len(mine) != len(want)
                            else f"button payloads {list(mine)} differ from the English {list(want)}")
                    problems.append(Problem("warning", what, lf.file, vline[0], f"{name}[{i}]"))
        for flow_name, line in lf.flow_name_lines.items():
            if flow_name not in flow_names:
                problems.append(Problem("warning", f"no flow is named {flow_name!r} (flow names: "
                                                   f"{', '.join(sorted(flow_names))})", lf.file, line,
                                        f"flow_names.{flow_name}"))
    return problems


def _slots_text(names: set[str]) -> str:
    return "{" + "}, {".join(sorted(names)) + "}" if names else "(none)"
