"""FAQ or task: does the real dialog policy answer from the knowledge base, start the task, or ask?

`python -m benchmarks.arbitration [--data PATH] [--out DIR] [--model-dir DIR | --train] [--sweep]`

Every row of `benchmarks/data/arbitration.csv` (hand-written fan messages, six languages; columns
`text,language,expected,note`) goes through what `fancare run` does with a new message: the trained
NLU model (`./models`, `fancare train`) parses it, and `App(cfg).policy.decide(parse, {}, Turn(...))`
decides on an empty conversation. The outcome is read off the decision:

- `clarify`        the policy asked one question with two buttons (`action == "clarify"`);
- `task:<flow>`    a flow started: `flow.arbitration` chose the task, the dialog stack holds it, it
                   escalated (`Decision.escalate`, `escalate:<queue>`) or ran (`flow:<id>`);
- `faq:<article>`  the knowledge base answered (`faq.answered`);
- `other:<action>` anything else (fallback, out of scope, "I'm not sure", a plain response).

A row is right when the outcome equals `expected`. An article and its translation are one answer
(`returns-policy-es` is the Spanish `returns-policy`): the fan gets the same policy either way.

The set is split once into a tuning half and a held-out half (stratified by language and expected
kind, seed 13): the thresholds in `dialogs/arbitration.py` were chosen on the tuning half only. Rows
noted `dev:` (written to test the cues, then used to fix them) always belong to the tuning half;
rows noted `fresh:` (written after the rules were frozen) are reported apart and never tuned on.
`--sweep` shows how the thresholds were chosen: it records, for every message the arbitration
decides, what `arbitrate()` was given and what the policy does for each of its three choices (so
`_clarify_tasks` and the rest of the policy stay in the loop), then scores every combination of the
thresholds in `GRID` on the tuning half and picks the best; ties go to the strictest article bars
(where the tuning half cannot tell, an article must show the most evidence), then to the setting
whose grid neighbours score best (the middle of a plateau, not its edge). Writes
`benchmarks/results/arbitration.json` (and `arbitration_sweep.json`; gitignored).

Besides end-to-end accuracy it reports the arbitration's own choice on the messages that reach it
and, for every error, where it comes from (NLU intent, knowledge-base threshold or ranking, the
policy's which-task question, the arbitration).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import os
import random
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import yaml  # noqa: E402

from benchmarks.common import REPO, RESULTS, table, write_result  # noqa: E402

DATA = REPO / "benchmarks" / "data" / "arbitration.csv"
SPLIT_SEED = 13
KINDS = ("faq", "task", "clarify")
CHOICES = ("task", "faq", "clarify")
#: the thresholds of dialogs/arbitration.py that --sweep tries
GRID: dict[str, list[float]] = {
    "FAQ_SCORE": [0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85],
    "STATEMENT_SCORE": [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9],
    "CLARIFY_BAND": [0.0, 0.04, 0.08],
    "TAG_BONUS": [0.0, 0.02, 0.05, 0.1],
    "ASK_SCORE": [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9],
    "CLARIFY_MAX_CONFIDENCE": [0.99, 1.01],
}
#: among settings the tuning half cannot tell apart, the strictest article bars win (an article must
#: show the most evidence the data allows), then the setting whose grid neighbours score best
STRICT = ("FAQ_SCORE", "STATEMENT_SCORE")


@dataclass(frozen=True)
class Row:
    text: str
    language: str
    expected: str
    note: str
    split: str = ""  # "tuning" | "heldout" | "fresh"

    @property
    def kind(self) -> str:
        return self.expected.split(":", 1)[0]


def load_rows(path: Path = DATA) -> list[Row]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = [Row(r["text"], r["language"], r["expected"], r.get("note", "")) for r in csv.DictReader(f)]
    for r in rows:
        if r.kind not in KINDS or (r.kind != "clarify" and ":" not in r.expected):
            raise ValueError(f"bad expected {r.expected!r} for {r.text!r}")
    return split_rows(rows)


def split_rows(rows: Sequence[Row], seed: int = SPLIT_SEED) -> list[Row]:
    """Half tuning, half held out, stratified by (language, expected kind); fixed by the seed.

    Rows whose note starts with `dev:` were written to test the cues and then used to revise them:
    they always belong to the tuning half. Rows whose note starts with `fresh:` were written after the
    rules were frozen and never tuned on: they are reported as a third group, `fresh`."""
    strata: dict[tuple[str, str], list[int]] = defaultdict(list)
    split = [""] * len(rows)
    for i, r in enumerate(rows):
        if r.note.startswith("dev:"):
            split[i] = "tuning"
        elif r.note.startswith("fresh:"):
            split[i] = "fresh"
        else:
            strata[(r.language, r.kind)].append(i)
    rng = random.Random(seed)
    flip = 0
    for key in sorted(strata):
        idx = strata[key]
        rng.shuffle(idx)
        for j, i in enumerate(idx):  # odd-sized strata alternate which half gets the extra row
            split[i] = "tuning" if (j + flip) % 2 == 0 else "heldout"
        flip += len(idx) % 2
    return [Row(r.text, r.language, r.expected, r.note, split[i]) for i, r in enumerate(rows)]


def write_app_config(tmp: Path, model_dir: Path) -> Path:
    """What tests/conftest.py's write_config builds: the repository's data, a temporary SQLite store."""
    data = {
        "store": {"url": f"sqlite:///{tmp / 'bench.db'}"},
        "nlu": {"training_data": [str(REPO / "training_data")], "model_dir": str(model_dir)},
        "knowledge_base": {"path": str(REPO / "knowledge_base" / "articles")},
        "dialogs": {"domain": str(REPO / "dialogs" / "domain.yml"), "flows": [str(REPO / "dialogs" / "flows.yml")]},
        "orders": {"demo_table": str(REPO / "dialogs" / "demo_orders.csv")},
        "logging": {"level": "WARNING"},
    }
    path = tmp / "config.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def build_app(tmp: Path, model_dir: Path | None = None, train: bool = False) -> Any:
    """An `App` on the trained model in `model_dir` (default ./models, what `fancare run` serves);
    with `train`, or when there is none, on a model trained here from the current training data."""
    from bot.app import App, model_root, train_model
    from bot.config import load_config

    model_dir = model_dir or REPO / "models"
    if train or not (model_dir / "LATEST").exists():
        model_dir = tmp / "models"
        cfg = load_config(write_app_config(tmp, model_dir))
        print("training a model on training_data/ (fancare train) ...", file=sys.stderr)
        train_model(cfg).save(model_root(cfg))
    return App(load_config(write_app_config(tmp, model_dir)))


def model_info(app: Any) -> dict[str, Any]:
    """Which model decided, and whether the training data changed since it was trained."""
    from nlu.readers import load_training_data

    current = load_training_data([REPO / "training_data"]).fingerprint()
    return {"version": app.model.version, "stale": app.model.meta.get("data_fingerprint") != current}


def outcome(d: Any) -> str:
    """What the fan got: `clarify`, `task:<flow>`, `faq:<article>` or `other:<action>`."""
    if d.action == "clarify":
        return "clarify"
    flow: str | None = None
    for name, data in d.events:
        if name == "flow.arbitration" and data.get("choice") == "task":
            flow = str(data["flow"])
    stack = d.state.get("stack") or []
    if flow is None and stack:
        flow = str(stack[0]["flow"])
    if flow is None and d.escalate is not None:
        flow = str(d.escalate.reason.get("flow") or d.escalate.queue)
    if flow is None and d.action.startswith("flow:"):
        flow = d.action.split(":")[1]
    if flow is None:
        flow = next((str(data["flow"]) for name, data in d.events if name == "flow.completed"), None)
    if flow is not None:
        return f"task:{flow}"
    faq = next((str(data["article"]) for name, data in d.events if name == "faq.answered"), None)
    if faq is not None:
        return f"faq:{faq}"
    return f"other:{d.action}"


def family(article_id: str, known: set[str]) -> str:
    """`returns-policy-es` -> `returns-policy` when the untranslated article exists."""
    base, _, suffix = article_id.rpartition("-")
    return base if len(suffix) == 2 and base in known else article_id


def is_right(expected: str, got: str, known: set[str]) -> bool:
    if expected.startswith("faq:") and got.startswith("faq:"):
        return family(expected[4:], known) == family(got[4:], known)
    return expected == got


async def decide_all(app: Any, rows: Sequence[Row]) -> list[dict[str, Any]]:
    from dialogs.policy import Turn

    known = {a.id for a in app.kb.articles}
    out = []
    for i, r in enumerate(rows):
        parse = await app.nlu.parse(r.text)
        turn = Turn(10_000 + i, r.text, display_name="Sam",
                    language=parse.language if parse.language not in ("und", None) else None)
        d = await app.policy.decide(parse, {}, turn)
        got = outcome(d)
        arb = next((data for name, data in d.events if name == "flow.arbitration"), None)
        right = is_right(r.expected, got, known)
        out.append({"text": r.text, "language": r.language, "expected": r.expected, "got": got, "right": right,
                    "split": r.split, "note": r.note, "intent": parse.intent, "confidence": round(parse.confidence, 3),
                    "detected_language": parse.language, "arbitrated": arb is not None,
                    "kind_right": _kind(r.expected) == _kind(got),
                    "arbitration_right": arb["choice"] == _kind(r.expected) if arb else None,
                    "stage": None if right else stage(r.expected, got, parse.intent, arb),
                    "arbitration": f"{arb['choice']} ({arb['reason']}, kb {arb['kb_score']})" if arb else None})
    return out


def stage(expected: str, got: str, intent: str, arb: dict[str, Any] | None) -> str:
    """Which part of the decision an error comes from."""
    if arb is not None and arb["choice"] != _kind(expected):
        return "arbitration (dialogs/arbitration.py)"
    if got == "clarify":
        return "which-task question (policy._clarify_tasks)"
    if expected.startswith("faq:") and got.startswith("faq:"):
        return "knowledge base ranking (another article first)"
    if intent == "faq" and got.startswith("other:"):
        return "knowledge base threshold (faq intent, best article under kb_threshold)"
    return f"NLU intent ({intent})"


def _kind(label: str) -> str:
    return label.split(":", 1)[0]


SPLITS = ("tuning", "heldout", "fresh")
SPLIT_NAMES = {"tuning": "tuning half", "heldout": "held-out half", "fresh": "fresh (written after tuning)",
               "all": "full set"}


def summarise(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    def acc(rs: Sequence[dict[str, Any]], key: str = "right") -> dict[str, Any]:
        n = len(rs)
        right = sum(bool(r[key]) for r in rs)
        return {"n": n, "right": right, "accuracy": round(right / n, 4) if n else None}

    splits = [s for s in SPLITS if any(r["split"] == s for r in results)] + ["all"]

    def part(rs: Sequence[dict[str, Any]], s: str) -> list[dict[str, Any]]:
        return [r for r in rs if s == "all" or r["split"] == s]

    body: dict[str, Any] = {"splits": splits, "overall": acc(results)}
    body["by_split"] = {s: acc(part(results, s)) for s in splits}
    body["by_split_kind_only"] = {s: acc(part(results, s), "kind_right") for s in splits}
    langs = sorted({r["language"] for r in results}, key=lambda x: (x != "en", x))
    body["by_language"] = {lang: {s: acc(part([r for r in results if r["language"] == lang], s)) for s in splits}
                           for lang in langs}
    body["by_expected_kind"] = {k: {s: acc(part([r for r in results if _kind(r["expected"]) == k], s))
                                    for s in splits} for k in KINDS}
    confusion: dict[str, Counter[str]] = {k: Counter() for k in KINDS}
    for r in results:
        got = _kind(r["got"])
        if got in ("faq", "task") and got == _kind(r["expected"]) and not r["right"]:
            got += " (wrong target)"
        confusion[_kind(r["expected"])][got] += 1
    body["confusion"] = {k: dict(v) for k, v in confusion.items()}
    arbitrated = [r for r in results if r["arbitrated"]]
    body["arbitration_stage"] = {s: acc(part(arbitrated, s), "arbitration_right") for s in splits}
    body["errors_by_stage"] = dict(Counter(r["stage"] for r in results if not r["right"]).most_common())
    body["errors"] = [r for r in results if not r["right"]]
    return body


def render(body: dict[str, Any]) -> str:
    splits = body["splits"]
    lines = [table([{"set": SPLIT_NAMES[s], **body["by_split"][s],
                     "right kind (faq / task / clarify)": body["by_split_kind_only"][s]["accuracy"]} for s in splits],
                   ["set", "n", "right", "accuracy", "right kind (faq / task / clarify)"]), ""]
    rows = [{"language": lang, "n": v["all"]["n"], **{SPLIT_NAMES[s].split(" (")[0]: v[s]["accuracy"] for s in splits}}
            for lang, v in body["by_language"].items()]
    rows += [{"language": f"expected {k}", "n": v["all"]["n"],
              **{SPLIT_NAMES[s].split(" (")[0]: v[s]["accuracy"] for s in splits}}
             for k, v in body["by_expected_kind"].items()]
    lines += [table(rows, ["language", "n", *(SPLIT_NAMES[s].split(" (")[0] for s in splits)]), ""]
    a = body["arbitration_stage"]
    lines += ["the arbitration's own choice (faq / task / clarify) on the messages that reach it:", "",
              table([{"set": SPLIT_NAMES[s], **a[s]} for s in splits], ["set", "n", "right", "accuracy"]), "",
              table([{"errors from": k, "n": v} for k, v in body["errors_by_stage"].items()], ["errors from", "n"]), ""]
    cols = ["faq", "faq (wrong target)", "task", "task (wrong target)", "clarify", "other"]
    lines += [table([{"expected \\ got": k, **{c: body["confusion"][k].get(c, 0) for c in cols}} for k in KINDS],
                    ["expected \\ got", *cols]), ""]
    if body["errors"]:
        lines.append("errors:")
        for e in body["errors"]:
            lines.append(f"  [{e['split']}] {e['language']} {e['text']!r}: expected {e['expected']}, got {e['got']} "
                         f"(intent {e['intent']} {e['confidence']}; {e['arbitration'] or 'no arbitration'}; "
                         f"{e['stage']})")
    return "\n".join(lines)


def run_arbitration(data: Path = DATA, out_dir: Path = RESULTS, model_dir: Path | None = None,
                    train: bool = False) -> dict[str, Any]:
    from dialogs import arbitration

    rows = load_rows(data)
    with tempfile.TemporaryDirectory(prefix="fancare-arb-") as tmp:
        app = build_app(Path(tmp), model_dir, train)
        try:
            results = asyncio.run(decide_all(app, rows))
            model = model_info(app)
        finally:
            app.close()
    body = summarise(results)
    body.update(data=str(data.relative_to(REPO) if data.is_relative_to(REPO) else data), split_seed=SPLIT_SEED,
                model=model, composition=_composition(rows),
                thresholds={k: getattr(arbitration, k) for k in dir(arbitration) if k.isupper()
                            and isinstance(getattr(arbitration, k), float | int)},
                results=results)
    body["table"] = render(body)
    write_result("arbitration", body, out_dir)
    return body


def _composition(rows: Sequence[Row]) -> dict[str, Any]:
    return {"rows": len(rows), "by_kind": dict(Counter(r.kind for r in rows)),
            "by_language": dict(Counter(r.language for r in rows)),
            "by_split": dict(Counter(r.split for r in rows)),
            "by_expected": dict(Counter(r.expected for r in rows))}


async def record_choices(app: Any, rows: Sequence[Row]) -> list[dict[str, Any]]:
    """For each row: the real outcome, the arguments `arbitrate()` got (None: not asked) and the
    outcome of each forced choice, so that any thresholds can be scored without the NLU again."""
    import dialogs.policy as policy_module
    from dialogs.arbitration import Arbitration
    from dialogs.policy import Turn

    real = policy_module.arbitrate
    seen: list[dict[str, Any]] = []

    def recording(**kw: Any) -> Arbitration:
        seen.append(kw)
        return real(**kw)

    out = []
    try:
        for i, r in enumerate(rows):
            parse = await app.nlu.parse(r.text)
            turn = Turn(20_000 + i, r.text, display_name="Sam",
                        language=parse.language if parse.language not in ("und", None) else None)
            seen.clear()
            policy_module.arbitrate = recording
            got = outcome(await app.policy.decide(parse, {}, turn))
            args = dict(seen[0]) if seen else None
            by_choice = {}
            if args is not None:
                for choice in CHOICES:
                    policy_module.arbitrate = lambda _c=choice, **_kw: Arbitration(_c, "forced")
                    by_choice[choice] = outcome(await app.policy.decide(parse, {}, turn))
            out.append({"row": r, "got": got, "args": args, "by_choice": by_choice})
    finally:
        policy_module.arbitrate = real
    return out


def sweep(records: Sequence[dict[str, Any]], known: set[str], grid: dict[str, list[float]] = GRID) -> dict[str, Any]:
    """Score every threshold combination on both halves; pick the best on the tuning half."""
    from dialogs import arbitration

    names = list(grid)
    saved = {n: getattr(arbitration, n) for n in names}
    splits = [s for s in SPLITS if any(r["row"].split == s for r in records)]
    fixed = {s: sum(is_right(r["row"].expected, r["got"], known) for r in records
                    if r["args"] is None and r["row"].split == s) for s in splits}
    live = [r for r in records if r["args"] is not None]
    n = {s: sum(r["row"].split == s for r in records) for s in splits}
    right_by_choice = [{c: is_right(r["row"].expected, r["by_choice"][c], known) for c in CHOICES} for r in live]
    scores: dict[tuple[float, ...], dict[str, float]] = {}
    try:
        for values in itertools.product(*(grid[k] for k in names)):
            for k, v in zip(names, values, strict=True):
                setattr(arbitration, k, v)
            right = dict(fixed)
            for r, ok in zip(live, right_by_choice, strict=True):
                right[r["row"].split] += ok[arbitration.arbitrate(**r["args"]).choice]
            scores[values] = {s: right[s] / n[s] for s in splits}
    finally:
        for k, v in saved.items():
            setattr(arbitration, k, v)

    def neighbours(values: tuple[float, ...]) -> float:
        near = []
        for i, k in enumerate(names):
            j = grid[k].index(values[i])
            for jj in (j - 1, j + 1):
                if 0 <= jj < len(grid[k]):
                    near.append(scores[values[:i] + (grid[k][jj],) + values[i + 1:]]["tuning"])
        return sum(near) / len(near) if near else 0.0

    best_tuning = max(s["tuning"] for s in scores.values())
    bars = [names.index(k) for k in STRICT]
    top = sorted((v for v, s in scores.items() if s["tuning"] == best_tuning),
                 key=lambda v: (-sum(v[i] for i in bars), -neighbours(v)))
    current = tuple(saved[k] for k in names)
    rows = [{**dict(zip(names, v, strict=True)), "tuning": scores[v]["tuning"], "neighbours": round(neighbours(v), 4),
             **{SPLIT_NAMES[s].split(" (")[0]: scores[v][s] for s in splits if s != "tuning"}} for v in top[:10]]
    return {"grid": grid, "configs": len(scores), "arbitrated_rows": len(live), "best_tuning_accuracy": best_tuning,
            "configs_at_best": len(top), "chosen": dict(zip(names, top[0], strict=True)),
            "chosen_scores": scores[top[0]], "current": dict(zip(names, current, strict=True)),
            "current_scores": scores.get(current), "top": rows,
            "table": table(rows, [*names, "tuning", "neighbours",
                                  *(SPLIT_NAMES[s].split(" (")[0] for s in splits if s != "tuning")])}


def run_sweep(data: Path = DATA, out_dir: Path = RESULTS, model_dir: Path | None = None,
              train: bool = False) -> dict[str, Any]:
    rows = load_rows(data)
    with tempfile.TemporaryDirectory(prefix="fancare-arb-") as tmp:
        app = build_app(Path(tmp), model_dir, train)
        try:
            records = asyncio.run(record_choices(app, rows))
            known = {a.id for a in app.kb.articles}
            model = model_info(app)
        finally:
            app.close()
    body = sweep(records, known)
    body["model"] = model
    write_result("arbitration_sweep", body, out_dir)
    return body


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--model-dir", type=Path, default=None, help="trained model (default ./models)")
    ap.add_argument("--train", action="store_true", help="train a model on training_data/ first (not ./models)")
    ap.add_argument("--sweep", action="store_true", help="choose the thresholds on the tuning half (GRID)")
    args = ap.parse_args(argv)
    if args.sweep:
        sw = run_sweep(args.data.resolve(), args.out, args.model_dir, args.train)
        print(f"{sw['configs']} threshold settings, {sw['arbitrated_rows']} messages reach the arbitration; "
              f"best tuning accuracy {sw['best_tuning_accuracy']:.4f} ({sw['configs_at_best']} settings)")
        print(f"chosen: {sw['chosen']} -> {sw['chosen_scores']}")
        print(f"current dialogs/arbitration.py: {sw['current']} -> {sw['current_scores']}\n")
        print(sw["table"])
        return 0
    body = run_arbitration(args.data.resolve(), args.out, args.model_dir, args.train)
    c, m = body["composition"], body["model"]
    print(f"{c['rows']} messages {c['by_kind']} {c['by_language']}; model {m['version']}"
          f"{' (trained before the current training data: run fancare train, or --train)' if m['stale'] else ''}\n")
    print(body["table"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
