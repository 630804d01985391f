"""Small hand-written lexicons (CC0, written for fancare): a floor under the trained heads and the
whole signal when no head is trained yet. Words are matched on the normalised text, whole words."""

from __future__ import annotations

import re

INSULTS = ("idiot", "idiots", "moron", "morons", "stupid", "dumb", "dumbass", "loser", "losers", "scum", "trash",
           "garbage person", "pathetic", "shut up", "stfu", "fuck you", "fuck off", "screw you", "asshole",
           "bastard", "bitch", "dickhead", "jerk", "clown", "retard", "imbecile", "piece of shit", "go to hell",
           "kill yourself", "kys", "die in a fire", "cunt", "wanker", "twat", "prick")
PROFANITY = ("fuck", "fucking", "shit", "shitty", "crap", "damn", "wtf", "bullshit", "piss", "pissed")
HATE = ("go back to your country", "subhuman", "vermin", "should be exterminated", "should be deported",
        "don't belong here", "dont belong here", "inferior race", "filthy immigrants", "invaders",
        "should all die", "gas them", "white power", "hate all", "ban all muslims", "ban all jews")
NEGATIVE = ("bad", "worst", "terrible", "awful", "horrible", "broken", "hate", "angry", "disappointed",
            "useless", "refund", "scam", "never again", "annoyed", "furious", "unacceptable", "sucks", "late",
            "still waiting", "ridiculous", "poor", "garbage", "rip off", "ripoff", "dead", "not working",
            "doesn't work", "doesnt work", "stopped working", "worse", "fail", "failed", "problem", "issue")
POSITIVE = ("love", "great", "awesome", "amazing", "thanks", "thank you", "excellent", "perfect", "best",
            "happy", "fantastic", "brilliant", "nice", "cool", "good", "wonderful", "recommend", "glad",
            "impressed", "works great", "well done")


def _compile(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")\b")


_INSULT, _PROFANITY, _HATE = _compile(INSULTS), _compile(PROFANITY), _compile(HATE)
_NEG, _POS = _compile(NEGATIVE), _compile(POSITIVE)


def offensive_score(normalized: str) -> float:
    """1.0 for an insult, 0.6 for profanity alone, 0.0 otherwise."""
    if _INSULT.search(normalized) or _HATE.search(normalized):
        return 1.0
    return 0.6 if _PROFANITY.search(normalized) else 0.0


def hate_score(normalized: str) -> float:
    return 1.0 if _HATE.search(normalized) else 0.0


def sentiment(normalized: str) -> tuple[str, float]:
    """(label, confidence) from word counts; neutral when nothing or both sides match."""
    neg, pos = len(_NEG.findall(normalized)), len(_POS.findall(normalized))
    if neg == pos:
        return "neutral", 0.5
    label = "negative" if neg > pos else "positive"
    return label, min(0.95, 0.55 + 0.15 * abs(neg - pos))
