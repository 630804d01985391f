"""`python -m benchmarks.language_id`: language identification on short fan messages (1-4 words).

Detectors compared, each restricted to the twelve configured languages of the demo brand:

- `stopwords`: the old detector (`nlu.language.route_language`, still the encoder router);
- `lingua-low` / `lingua-high`: lingua alone, low- and high-accuracy mode;
- `fancare-low` / `fancare-high`: `nlu.language.LanguageIdentifier` (script + chat words + lingua,
  outsider check), each lingua mode;
- `fancare-low+prior` / `fancare-high+prior`: the same on a follow-up message, the conversation's language (the message's
  true language) given as the prior;
- `fancare-low/high, lexicon held out`: each message scored with its own words removed from the chat-word
  lexicon, because the lexicon and `short_messages.yml` were written by the same person: this column
  shows what the method does on words the lexicon does not know;
- `fancare-low, no corpus`: without the words of the brand's translated texts (`nlu/language_corpus.py`),
  what that table adds.

Data: `benchmarks/data/short_messages.yml` (hand-written, 27 per language, plus "und" rows scored
apart) and, as a set written by someone else, the messages of `benchmarks/data/multilingual_care.yml`
(11 languages; its 1-4 word messages and all of them), and `benchmarks/data/language_dev.yml` (144 first
messages of 1-4 words in the nine Latin-script languages: votes, insults, thanks, complaints; a regression
check written after the independent set's errors had been read, so not independent of them). Load time and memory are measured in a fresh
process per variant (RSS growth while building the detector).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from benchmarks.common import REPO, table, write_result

SHORT = REPO / "benchmarks" / "data" / "short_messages.yml"
CARE = REPO / "benchmarks" / "data" / "multilingual_care.yml"
DEV = REPO / "benchmarks" / "data" / "language_dev.yml"
CARE_ORDER = ["en", "es", "fr", "de", "pt", "it", "nl", "pl", "tr", "ru", "ar"]  # 3 per language per intent


def load_short(path: Path = SHORT) -> tuple[dict[str, list[str]], list[str]]:
    """(messages per language, messages that should be "und"); errors name the file and key."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("languages"), dict):
        raise SystemExit(f"{path}: expected a mapping with a 'languages' key")
    langs: dict[str, list[str]] = {}
    for code, msgs in data["languages"].items():
        if not isinstance(msgs, list) or not all(isinstance(m, str) for m in msgs):
            raise SystemExit(f"{path}: languages.{code} must be a list of strings")
        langs[str(code)] = msgs
    und = data.get("undetermined") or []
    return langs, [str(m) for m in und]


def load_care(path: Path = CARE) -> list[tuple[str, str]]:
    """(text, language) for every message of the multilingual care set (languages by position)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for block in data["nlu"]:
        examples = [ln.strip()[2:].strip() for ln in block["examples"].splitlines() if ln.strip().startswith("- ")]
        if len(examples) != 3 * len(CARE_ORDER):
            raise SystemExit(f"{path}: intent {block.get('intent')} has {len(examples)} examples, expected 33")
        out += [(t, CARE_ORDER[i // 3]) for i, t in enumerate(examples)]
    return out


def _rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20


def _measure_load(variant: str, languages: list[str]) -> dict[str, float]:
    """Run in a fresh process: build one variant, report seconds and RSS growth."""
    import nlu.language as L

    before = _rss_mb()
    t0 = time.perf_counter()
    if variant.startswith("lingua-"):
        from lingua import LanguageDetectorBuilder

        latin = [L._lingua_language(c) for c in languages if c not in ("ru", "ar", "hi")]
        b = LanguageDetectorBuilder.from_languages(*latin)  # type: ignore[arg-type]
        if variant == "lingua-low":
            b = b.with_low_accuracy_mode()
        b.with_preloaded_language_models().build()
    elif variant == "fancare-high-no-outsiders":
        L.LanguageIdentifier(languages, high_accuracy=True, outsiders=())
    else:
        L.LanguageIdentifier(languages, high_accuracy=variant == "fancare-high")
    return {"load_s": round(time.perf_counter() - t0, 2), "rss_mb": round(_rss_mb() - before, 1)}


def _lingua_only(languages: list[str], high: bool) -> Callable[[str, str | None], str]:
    from lingua import LanguageDetectorBuilder

    import nlu.language as L

    b = LanguageDetectorBuilder.from_languages(*[L._lingua_language(c) for c in languages])  # type: ignore[arg-type]
    det = (b if high else b.with_low_accuracy_mode()).build()

    def f(text: str, _prior: str | None) -> str:
        lang = det.detect_language_of(text)
        return lang.iso_code_639_1.name.lower() if lang is not None else "und"
    return f


def detectors(languages: list[str]) -> dict[str, Callable[[str, str | None], str]]:
    import nlu.language as L

    low = L.LanguageIdentifier(languages, high_accuracy=False)
    high = L.LanguageIdentifier(languages, high_accuracy=True)
    return {
        "stopwords": lambda t, _p: L.route_language(t)[0],
        "lingua-low": _lingua_only(languages, high=False),
        "lingua-high": _lingua_only(languages, high=True),
        "fancare-low": lambda t, _p: low.detect(t)[0],
        "fancare-low+prior": lambda t, p: low.detect(t, p)[0],
        "fancare-high": lambda t, _p: high.detect(t)[0],
        "fancare-high+prior": lambda t, p: high.detect(t, p)[0],
    }


def held_out_lexicon(languages: list[str], high_accuracy: bool) -> Callable[[str, str | None], str]:
    """The identifier with the message's own words removed from the chat-word lexicon."""
    import nlu.language as L

    high = L.LanguageIdentifier(languages, high_accuracy=high_accuracy)

    def f(text: str, _prior: str | None) -> str:
        words = {w.casefold() for w in L._WORD.findall(text)}
        saved = high._lexicon
        high._lexicon = {w: c for w, c in saved.items() if w not in words}
        try:
            return high.detect(text)[0]
        finally:
            high._lexicon = saved
    return f


def without_corpus(languages: list[str]) -> Callable[[str, str | None], str]:
    """The low-accuracy identifier without the brand's translated texts' words (`corpus={}`)."""
    import nlu.language as L

    bare = L.LanguageIdentifier(languages, corpus={})
    return lambda text, _prior: bare.detect(text)[0]


def accuracy(fn: Callable[[str, str | None], str], rows: list[tuple[str, str]]) -> dict[str, Any]:
    per: dict[str, list[int]] = {}
    errors = []
    for text, lang in rows:
        got = fn(text, lang)
        per.setdefault(lang, []).append(int(got == lang))
        if got != lang:
            errors.append({"text": text, "true": lang, "got": got})
    total = [x for v in per.values() for x in v]
    return {"accuracy": round(sum(total) / len(total), 4), "n": len(total),
            "per_language": {k: round(sum(v) / len(v), 3) for k, v in per.items()}, "errors": errors}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--measure-load", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    langs_rows, und = load_short()
    languages = list(langs_rows)
    if args.measure_load:
        print(json.dumps(_measure_load(args.measure_load, languages)))
        return 0

    short_rows = [(m, lang) for lang, msgs in langs_rows.items() for m in msgs]
    too_long = [m for m, _ in short_rows if len(m.split()) > 4]
    if too_long:
        raise SystemExit(f"{SHORT}: messages over 4 words: {too_long}")
    care = load_care()
    care_short = [(t, lang) for t, lang in care if len(t.split()) <= 4]
    dev_langs, dev_und = load_short(DEV)
    dev_rows = [(m, lang) for lang, msgs in dev_langs.items() for m in msgs]

    loads = {}
    for variant in ("lingua-low", "lingua-high", "fancare-low", "fancare-high", "fancare-high-no-outsiders"):
        out = subprocess.run([sys.executable, "-m", "benchmarks.language_id", "--measure-load", variant],
                             cwd=REPO, capture_output=True, text=True, check=True).stdout
        loads[variant] = json.loads(out.strip().splitlines()[-1])

    dets = detectors(languages)
    dets["fancare-low, lexicon held out"] = held_out_lexicon(languages, high_accuracy=False)
    dets["fancare-high, lexicon held out"] = held_out_lexicon(languages, high_accuracy=True)
    dets["fancare-low, no corpus"] = without_corpus(languages)
    results: dict[str, Any] = {}
    for name, fn in dets.items():
        results[name] = {
            "short": accuracy(fn, short_rows),
            "care_1_4_words": accuracy(fn, care_short),
            "care_all": accuracy(fn, care),
            "dev": accuracy(fn, dev_rows),
            "und_correct": round(sum(fn(m, None) == "und" for m in und + dev_und) / len(und + dev_und), 3),
        }
    # latency per message (no prior), warm, 1 thread
    lat: dict[str, float] = {}
    for name in ("stopwords", "fancare-low", "fancare-high"):
        fn = dets[name]
        times = []
        for _ in range(3):
            for m, _lang in short_rows:
                t0 = time.perf_counter()
                fn(m, None)
                times.append(time.perf_counter() - t0)
        times.sort()
        lat[name] = round(times[len(times) // 2] * 1000, 3)

    rows = []
    for name, r in results.items():
        row: dict[str, Any] = {"detector": name, "short 1-4 words": f"{r['short']['accuracy']:.3f}"}
        row.update({lang: f"{r['short']['per_language'][lang]:.2f}" for lang in languages})
        row.update({"care 1-4 words": f"{r['care_1_4_words']['accuracy']:.3f}",
                    "care all": f"{r['care_all']['accuracy']:.3f}", "dev 1-4 words": f"{r['dev']['accuracy']:.3f}",
                    "und right": f"{r['und_correct']:.2f}"})
        rows.append(row)
    print(table(rows, list(rows[0])))
    print()
    print(table([{"variant": k, **v, "p50 ms/msg": lat.get(k, "")} for k, v in loads.items()],
                ["variant", "load_s", "rss_mb", "p50 ms/msg"]))
    print(f"p50 per message: {lat}")
    path = write_result("language_id", {"languages": languages, "n_short": len(short_rows),
                                         "n_care_short": len(care_short), "n_care": len(care),
                                         "load": loads, "p50_ms": lat, "results": results})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
