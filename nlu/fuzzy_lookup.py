"""Product names with typos and nicknames ("budz pro", "bud pro", "puls 3", "novax"): a fuzzy match of
word n-grams against the lookup table and its synonyms, normalised to the canonical value.

Why these rules (each one removes a false hit measured on ordinary messages, tests/nlu/test_entities.py):
- Compared without spaces, hyphens or case, so "pulse3", "puls 3" and "Pulse-3" meet "pulse 3".
- Only whole words: an n-gram starts and ends at word boundaries ("impulse 3" is not "pulse 3").
- Only names of 6+ letters are matched fuzzily; shorter ones ("arc", "dock", "pulse", "nova")
  are ordinary words one typo away from other ordinary words ("rock", "duck", "puls" in German).
  One edit at most, a swap of two letters counting as one ("pluse 3"); two would let "a speaker"
  reach "arc speaker" and "the nokia phone" "the nova phone". The first letter must agree
  (typos rarely hit it).
- Digits must agree exactly: "pulses" is not "pulse3", "nova 5" is not "nova x".
- Only variants that share a word with their product's name ("the arc speaker", not "the watch":
  "the match" is one letter away) and without the brand word ("Voltora Beam" is one letter from
  "Voltora team"); a brand word right before a hit joins its span ("Voltora Budz Pro").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz.distance import OSA

_WORD = re.compile(r"\w+(?:[-'’]\w+)*")
MIN_FUZZY_LEN = 6
# articles in the supported languages ("l" is the elided l'): never part of a name's span
ARTICLES = frozenset("the el la los las le les l der die das den dem des il lo gli os as do da".split())


def compact(text: str) -> str:
    """'Pulse-3' -> 'pulse3': the form names are compared in."""
    return re.sub(r"[\s\-_'’.]+", "", text.casefold())


def max_edits(key: str) -> int:
    return 0 if len(key) < MIN_FUZZY_LEN else 1


def brand_word(canonicals: list[str]) -> str | None:
    """The first word every canonical value shares ("voltora"), if there is one."""
    firsts = {c.split()[0].casefold() for c in canonicals if len(c.split()) > 1}
    return firsts.pop() if len(firsts) == 1 and all(len(c.split()) > 1 for c in canonicals) else None


@dataclass(frozen=True)
class FuzzyHit:
    start: int
    end: int
    text: str
    value: str  # canonical
    score: float  # 1 - edits / len(name), in [0, 1]


class FuzzyLookup:
    """Fuzzy matcher for one entity's names: `names` maps each written variant to its canonical value."""

    def __init__(self, names: dict[str, str]) -> None:
        self.keys: dict[str, str] = {}
        self.brand = brand_word(sorted(set(names.values())))
        variants = {" ".join(w.casefold() for w in _WORD.findall(v)) for v in names}
        for variant, canonical in names.items():
            words = [w.casefold() for w in _WORD.findall(variant)]
            if self.brand is not None and words[:1] == [self.brand]:
                words = words[1:]
            if len(words) > 1 and words[0] in ARTICLES and " ".join(words[1:]) in variants:
                continue  # "the arc speaker": the name is "arc speaker", spans hold no article
            name_words = {w.casefold() for w in _WORD.findall(canonical)} - {self.brand}
            k = compact("".join(words))
            # short names join the table only when written in several words ("nova x" meets "nova-x", no typo)
            if (max_edits(k) > 0 or len(words) > 1) and name_words & set(words):
                self.keys.setdefault(k, canonical)
        self.max_words = max((len(_WORD.findall(v)) for v in names), default=1) + 1
        self._by_first: dict[str, list[str]] = {}
        for k in self.keys:
            self._by_first.setdefault(k[0], []).append(k)

    def find(self, text: str) -> list[FuzzyHit]:
        """Every fuzzy hit in `text`, best per span; exact matches are the plain lookup's job but are
        found here too (score 1.0), which is harmless: the extractor keeps one entity per span."""
        if not self.keys:
            return []
        words = list(_WORD.finditer(text))
        hits: list[FuzzyHit] = []
        for i in range(len(words)):
            for j in range(i, min(i + self.max_words, len(words))):
                start, end = words[i].start(), words[j].end()
                span = text[start:end]
                cand = compact(span)
                if len(cand) < 4:
                    continue
                best: tuple[float, str] | None = None
                for key in self._by_first.get(cand[0], []):
                    limit = max_edits(key)
                    if abs(len(key) - len(cand)) > limit or _digits(key) != _digits(cand):
                        continue
                    d = OSA.distance(cand, key, score_cutoff=limit)  # a swap ("pluse") is one typo
                    if d <= limit:
                        score = 1.0 - d / len(key)
                        if best is None or score > best[0]:
                            best = (score, key)
                if best is not None:
                    if self.brand is not None and i > 0 and words[i - 1].group(0).casefold() == self.brand:
                        start = words[i - 1].start()
                    hits.append(FuzzyHit(start, end, text[start:end], self.keys[best[1]], round(best[0], 4)))
        return hits


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())
