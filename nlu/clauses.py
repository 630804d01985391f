"""Where a second request may start in a fan message, in the demo's 12 languages.

Why: fans put two requests in one line without the punctuation a sentence splitter needs ("refund
pls also do u ship to spain", "wo ist mein paket und außerdem will ich die adresse ändern"). A
single intent per message then answers one request and drops the other. This module proposes the
places where the message could be cut in two, from conjunction cues ("and also", "y también",
"außerdem", "а также", "aur bhi", ...), plain conjunctions before a new request, and sentence
punctuation; it does not decide. The model (nlu/model.py) classifies both halves of the best few
candidates in one encoder call and keeps a cut only when each half is a clear request of a different
intent, so a cue that is really part of one request ("the buds and the case are broken") costs
nothing but an encoder pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CHARS = 400  # longer messages are stories, not lists of requests: never cut
MIN_WORDS = 2  # each half of a cut at a cue word has at least this many words ("refund pls")
MIN_WORDS_WEAK = 3  # ... and at a bare conjunction or a full stop ("the buds pro | the case broke")
MAX_CANDIDATES = 3  # cuts classified per message (each costs two short encoder inputs)
# each half's confidence for a cut to count, chosen on a dev set written for this (30 two-request, 12
# rambling and 12 single-request messages in 12 languages; never the hard test set) and on the
# training data read as messages: at 0.5, 13 of the 1,417 single-request training examples read as
# two requests, at 0.7 5; 0.85 lost 3 of the 30 real pairs. A bare "and" or a full stop needs 0.85:
# at 0.7 "the buds pro | the charging case both stopped working" became praise + complaint.
HALF_CONFIDENCE = 0.7
WEAK_HALF_CONFIDENCE = 0.85

# Words that, between two clauses, can introduce another request (the bare conjunctions, _WEAK, too).
_CUE_WORDS = {
    "en": "and also|also|and another thing|another thing|one more thing|oh and|and btw|btw|by the way|"
          "plus|and one more|and then|and additionally|additionally|on top of that|aside from that|and",
    "es": "y también|y tambien|también|tambien|y además|y ademas|además|ademas|otra cosa|y otra cosa|"
          "por cierto|aparte|y aparte|y",
    "de": "und auch|und außerdem|außerdem|ausserdem|und noch|noch was|übrigens|ach und|und dann|zudem|"
          "noch eine frage|und|auch",
    "fr": "et aussi|aussi|en plus|et en plus|et puis|autre chose|au fait|par ailleurs|et sinon|sinon|"
          "et également|également|et",
    "pt": "e também|e tambem|também|tambem|além disso|alem disso|outra coisa|aliás|alias|e outra coisa|"
          "e mais|e",
    "it": "e anche|anche|inoltre|un'altra cosa|altra cosa|e poi|poi|tra l'altro|e inoltre|ah e|e",
    "nl": "en ook|ook|verder|daarnaast|nog iets|trouwens|en nog|oh en|en verder|en",
    "pl": "a także|i także|także|i też|też|oraz|i jeszcze|jeszcze|poza tym|przy okazji|a i|i|a",
    "tr": "ayrıca|ayrica|bir de|bi de|hem de|bu arada|ve de|ek olarak|ve",
    "ru": "а также|и также|также|и ещё|и еще|а ещё|а еще|ещё|еще|кстати|кроме того|и кроме того|"
          "и заодно|заодно|и",
    "ar": "وأيضا|وأيضاً|و أيضا|و أيضاً|أيضا|أيضاً|ايضا|وايضا|كمان|وكمان|و كمان|بالإضافة إلى ذلك|"
          "وبالمناسبة|بالمناسبة|وكذلك|كذلك|و",
    "hi": "aur bhi|aur haan|aur han|saath hi|sath hi|ek aur baat|vaise|waise|aur|और भी|और हाँ|और हां|"
          "साथ ही|एक और बात|वैसे|और|bhi|भी",
}
# German and Dutch put the verb second: a cue adverb is the first part of its clause ("außerdem will ich
# eine Erstattung", "ook wil ik iemand spreken") and stays with the second half; cut off, the half starts
# with its verb, reads like a question ("will ich eine Erstattung?") and less surely as a request
# (refund 0.63 against 0.81 with "außerdem"). Only the conjunction before it ("und", "en") is dropped.
_V2_ADVERBS = {"de": frozenset({"auch", "außerdem", "ausserdem", "zudem", "übrigens", "dann"}),
               "nl": frozenset({"ook", "verder", "daarnaast", "trouwens"})}
# the bare conjunctions: weaker cues (they join nouns as often as requests)
_WEAK = frozenset("and y und et e en i a ve и а و aur और auch bhi भी anche ook też także".split())
# Arabic writes "and" as a prefix: "وين طلبي وأبغى أرجعه" -> a cut before a prefixed request word
_AR_PREFIXED = re.compile(r"(?<=\s)و(?=(?:هل|كيف|متى|وين|أبغى|ابغى|أبي|ابي|أريد|اريد|ممكن|بدي|عايز|عاوز|ليش|لماذا)\b)")

_SEP = r"(?:(?<=\s)|^)"
_END = r"(?=[\s,.:;!?]|$)"


def _cue_pattern(cues: set[str]) -> re.Pattern[str]:
    """Longest cue first, so "and also" wins over "and"; a cue is a whole word or phrase."""
    return re.compile(_SEP + "(?P<cue>" + "|".join(re.escape(c) for c in sorted(cues, key=lambda c: (-len(c), c)))
                      + ")" + _END, re.IGNORECASE)


# per language: its own cues and English's (fans mix English in: "refund pls, también ...")
_CUES = {lang: _cue_pattern(set(cues.split("|")) | set(_CUE_WORDS["en"].split("|")))
         for lang, cues in _CUE_WORDS.items()}
_ALL_CUES = _cue_pattern({c for cues in _CUE_WORDS.values() for c in cues.split("|")})
# sentence ends and clause punctuation: "?" "!" "." ";" " - " (not inside numbers such as "2.5"); a bare
# comma is no cut: it mostly joins a reason to its request ("the box was crushed, I want a refund")
_PUNCT = re.compile(r"(?<=[^\d\s])(?P<cue>[?!.;؟।]+|\s[-–—]+)(?=\s)")


@dataclass(frozen=True)
class Cut:
    """One place the message could be two requests: the halves and how much the cue suggests it."""
    first: str
    second: str
    strength: int  # 0 strongest (a cue word after punctuation), 3 weakest (a bare conjunction)
    # cut at a cue word that announces another request ("also", "außerdem"), not at punctuation or a
    # bare "and": only then is the first half surely a request of its own rather than context
    announced: bool = False
    # the second half opens with a question or request word ("... and can I pay with klarna?", "¿cuánto
    # tarda?"; dialogs/repair.py `split_requests`): two requests even when the whole reads as neither
    asked: bool = False


def _words(text: str) -> int:
    return len(text.split())


def candidate_cuts(text: str, language: str | None = None, limit: int = MAX_CANDIDATES) -> list[Cut]:
    """The `limit` most likely cuts of `text` into two requests, most likely first; [] for a message
    too short, too long or without any cue. `language` (the routed one) picks its cue words and
    English's; unknown: every language's. Ties in strength go to the more balanced cut."""
    t = text.strip()
    if len(t) > MAX_CHARS or _words(t) < 2 * MIN_WORDS:
        return []
    found: dict[tuple[str, str], Cut] = {}

    def add(start: int, end: int, strength: int, keep_mark: str = "", announced: bool = False) -> None:
        first = (t[:start].rstrip(" ,;:-–—") + keep_mark).strip()
        second = t[end:].strip(" ,;:-–—.")
        least = MIN_WORDS if strength < 2 else MIN_WORDS_WEAK
        if _words(first) < least or _words(second) < least:
            return
        key = (first, second)
        if key not in found or found[key].strength > strength:
            found[key] = Cut(first, second, strength, announced)

    for m in _CUES.get(language or "", _ALL_CUES).finditer(t):
        before = t[:m.start()].rstrip()
        after_punct = bool(before) and before[-1] in ",.;!?؟।-–—"
        cue = m.group("cue")
        weak = cue.casefold() in _WEAK
        last = cue.split()[-1]
        end = m.end() - len(last) if not weak and last.casefold() in _V2_ADVERBS.get(language or "", ()) else m.end()
        add(m.start(), end, (2 if after_punct else 3) if weak else (0 if after_punct else 1), announced=not weak)
    if language == "ar" or language not in _CUES:
        for m in _AR_PREFIXED.finditer(t):
            add(m.start(), m.start() + 1, 3)
    for m in _PUNCT.finditer(t):
        mark = m.group("cue").strip()
        strength = 1 if mark[0] in "?!؟" else 2
        add(m.start(), m.end(), strength, keep_mark=mark if mark[0] in "?؟" else "")
    cuts = sorted(found.values(), key=lambda c: (c.strength, -min(_words(c.first), _words(c.second))))
    return cuts[:limit]
