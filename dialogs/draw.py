"""The verifiable draw: pure functions of published values, standard library only.

The rule (docs/verify-a-draw.md explains it for fans):

1. At open, fancare publishes `commitment = SHA-256(seed)`; the 32-byte seed stays secret.
2. At close, it publishes `entries_hash = SHA-256("\\n".join(sorted(entrant ids)))` over every entry.
3. Every entrant gets the score `HMAC-SHA256(key=seed, msg=entrant id)` (hex); entrants are ranked by
   score ascending (ties, which need a hash collision, by id).
4. Walking the ranking, the first `n` entrants not excluded are the winners. An entrant is excluded
   for a published reason (a bot, banned, not a member at draw time, a wrong answer, or disqualified
   by an operator later). A re-draw is the same walk with one more exclusion.
5. After the draw the seed is revealed: anyone can check the commitment and recompute 3 and 4.

Nobody, fancare included, can choose the seed after seeing the entries (the commitment binds it),
and the entries cannot change after close (their hash is published).

Run `python -m dialogs.draw draw.json` on a file written by `fancare giveaway publish ID`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


def commitment(seed_hex: str) -> str:
    """SHA-256 of the seed's bytes, hex."""
    return hashlib.sha256(bytes.fromhex(seed_hex)).hexdigest()


def entries_hash(entrants: Iterable[str]) -> str:
    """SHA-256 of the sorted entrant ids joined by newlines (UTF-8), hex."""
    return hashlib.sha256("\n".join(sorted(entrants)).encode("utf-8")).hexdigest()


def score(seed_hex: str, entrant: str) -> str:
    return hmac.new(bytes.fromhex(seed_hex), entrant.encode("utf-8"), hashlib.sha256).hexdigest()


def ranking(seed_hex: str, entrants: Iterable[str]) -> list[str]:
    """Every entrant, best rank first."""
    return sorted(set(entrants), key=lambda e: (score(seed_hex, e), e))


def winners(seed_hex: str, entrants: Iterable[str], n: int, excluded: Mapping[str, str] | None = None) -> list[str]:
    """The first `n` entrants of the ranking that are not excluded."""
    out: list[str] = []
    skip = excluded or {}
    for e in ranking(seed_hex, entrants):
        if len(out) == n:
            break
        if e not in skip:
            out.append(e)
    return out


@dataclass
class Check:
    ok: bool
    problems: list[str] = field(default_factory=list)
    winners: list[str] = field(default_factory=list)


def verify(published: Mapping[str, Any]) -> Check:
    """Recompute a draw from its published values: commitment, entries hash, winners."""
    problems: list[str] = []
    seed = str(published["seed"])
    entrants = [str(e) for e in published["entrants"]]
    if commitment(seed) != published["commitment"]:
        problems.append("the seed does not match the commitment published at open")
    if entries_hash(entrants) != published["entries_hash"]:
        problems.append("the entrant list does not match the hash published at close")
    excluded = {str(k): str(v) for k, v in dict(published.get("excluded") or {}).items()}
    unknown = sorted(set(excluded) - set(entrants))
    if unknown:
        problems.append(f"excluded entrants that did not enter: {unknown[:5]}")
    got = winners(seed, entrants, int(published["winners_wanted"]), excluded)
    if got != list(published["winners"]):
        problems.append(f"winners differ: recomputed {got}, published {list(published['winners'])}")
    return Check(not problems, problems, got)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m dialogs.draw draw.json", file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as f:
        result = verify(json.load(f))
    for p in result.problems:
        print(f"FAIL: {p}")
    if result.ok:
        print(f"OK: winners {', '.join(result.winners)}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
