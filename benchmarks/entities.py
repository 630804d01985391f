"""`python -m benchmarks.entities`: entity scores without the encoders, and the latency of entity
extraction per message, with the date rules against `dateparser` (when installed) on the same texts.

Scores: `benchmarks/data/entities.yml` through the extractor the app builds (training data +
`orders.number_pattern` from config.yml), each message with the language `fancare` routes it to.
`fancare test nlu --data benchmarks/data/entities.yml` reports the same entity table through the
trained model (plus intents).

Latency: every message of the entity test set and of `training_data/` (the mix a bot sees: most
messages have no date), one thread, median and p95 of per-message wall time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from benchmarks.common import REPO, table, write_result
from bot.app import entity_patterns
from bot.config import load_config
from nlu.dates import find_dates
from nlu.entities import EntityExtractor
from nlu.entity_eval import evaluate_entities, format_entity_table
from nlu.language import route_language
from nlu.readers import load_training_data

DATA = REPO / "benchmarks" / "data" / "entities.yml"
HELDOUT = REPO / "benchmarks" / "data" / "entities_heldout.yml"  # written after the rules were frozen
LANGS = ["en", "es", "de", "fr", "pt", "it"]


def _timed(fn: Callable[[str], Any], texts: list[str], repeat: int) -> dict[str, float]:
    per: list[float] = []
    for _ in range(repeat):
        for t in texts:
            t0 = time.perf_counter()
            fn(t)
            per.append((time.perf_counter() - t0) * 1e6)
    per.sort()
    return {"p50_us": round(statistics.median(per), 1), "p95_us": round(per[int(0.95 * (len(per) - 1))], 1),
            "mean_us": round(statistics.fmean(per), 1)}


def _dateparser_dates(search_dates: Callable[..., Any], settings: dict[str, Any], td: Any) -> dict[str, float]:
    """dateparser's dates scored like the rules' value-only column: per message, the ISO dates it
    finds against the annotated date values (all messages share the reference date 2026-06-17)."""
    tp = fp = fn = 0
    for ex in td.examples:
        true = [s.value for s in ex.entities if s.entity == "date"]
        found = [d.date().isoformat() for _, d in (search_dates(ex.text, languages=LANGS, settings=settings) or [])]
        left = list(true)
        for v in found:
            if v in left:
                left.remove(v)
                tp += 1
            else:
                fp += 1
        fn += len(left)
    p, r = tp / max(1, tp + fp), tp / max(1, tp + fn)
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(2 * p * r / max(1e-9, p + r), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-dateparser", action="store_true")
    args = ap.parse_args()
    cfg = load_config(REPO / "config.yml")
    ex = EntityExtractor.from_training_data(load_training_data([REPO / "training_data"]))
    for entity, (pattern, canonical) in entity_patterns(cfg).items():
        ex.use_pattern(entity, pattern, canonical)
    scores: dict[str, Any] = {}
    for path in (DATA, HELDOUT):
        part = load_training_data([path])
        report, errors = evaluate_entities(ex, part, [route_language(e.text)[0] for e in part.examples])
        scores[path.name] = {**report, "errors": errors}
        print(f"\n{path.name}\n{format_entity_table(report)}")
        for e in errors:
            print(f"  {e['text']!r}: missed {e['missed']} spurious {e['spurious']}")
    td = load_training_data([DATA])

    texts = [e.text for e in td.examples] + [e.text for e in load_training_data([REPO / "training_data"]).examples]
    today = date(2026, 6, 17)
    rows = [
        {"what": "EntityExtractor.extract (all entities)", **_timed(lambda t: ex.extract(t, None, today), texts,
                                                                     args.repeat)},
        {"what": "nlu.dates.find_dates (rules)", **_timed(lambda t: find_dates(t, today), texts, args.repeat)},
    ]
    dp_scores: dict[str, float] | None = None
    if not args.no_dateparser:
        try:
            t0 = time.perf_counter()
            from dateparser.search import search_dates  # type: ignore[import-untyped]

            import_s = time.perf_counter() - t0
            settings = {"RELATIVE_BASE": __import__("datetime").datetime(2026, 6, 17), "PREFER_DATES_FROM": "past"}
            t0 = time.perf_counter()
            search_dates("ordered 2 weeks ago", languages=LANGS, settings=settings)
            first_s = time.perf_counter() - t0
            rows.append({"what": f"dateparser search_dates, 6 languages (import {import_s:.2f} s, "
                                 f"first call {first_s:.2f} s)",
                         **_timed(lambda t: search_dates(t, languages=LANGS, settings=settings), texts, 1)})
            dp_scores = _dateparser_dates(search_dates, settings, td)
            print(f"date value-only on entities.yml: dateparser {dp_scores}")
        except ImportError:
            print("dateparser not installed: its row is left out")
    print(f"\n{len(texts)} messages\n" + table(rows, ["what", "p50_us", "p95_us", "mean_us"]))
    path = write_result("entities", {"scores": scores, "latency": rows, "messages": len(texts),
                                     "dateparser_date_value_only": dp_scores})
    print(f"result: {path}")


if __name__ == "__main__":
    main()
