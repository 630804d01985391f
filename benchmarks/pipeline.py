"""End-to-end latency and throughput of `Pipeline.handle` on SQLite, as `fancare run` wires it.

One process, `App(cfg)` with the demo model trained here (the NLU options of the repository's
`config.yml`, real encoders, no embedding cache), a `RecordingChannel` as the platform. Measures:
- sequential latency of one fan message (persist, lock, moderation, NLU, policy, commit, send), p50/p99
  over English messages and over the 11-language mix;
- sustained msg/s with 64 conversations writing at once (`asyncio.gather`), where `NLUService`
  batches the messages that arrive together;
- model load time (`NLUModel.load`, fresh process) and peak RSS of this process;
- SQL statements and transactions per message (`bot.store.counting.SQLCounter`), exact where times are noisy.

`python -m benchmarks.pipeline --quick` is a shorter run (fewer messages, no fresh-process load timing)
for comparing two versions back to back; `benchmarks.run --only pipeline` is the full one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, Timer, percentiles, table, write_config, write_result
from benchmarks.multilingual import TEST_FILE, languages
from bot.app import App, model_root, train_model
from bot.channels.base import Incoming
from bot.config import load_config
from bot.store.counting import SQLCounter
from nlu.readers import load_training_data
from tests.fakes.recording_channel import RecordingChannel

SEQUENTIAL = 330
CONCURRENT = 64
BATCHES = 8
_LOAD_SNIPPET = (
    "import sys, time, json\nfrom nlu.model import NLUModel\n"
    "t = time.perf_counter(); NLUModel.load(sys.argv[1]); print(json.dumps(time.perf_counter() - t))\n"
)


def _incoming(tag: str, i: int, text: str, conversations: int) -> Incoming:
    user = f"{tag}-u{i % conversations}"
    return Incoming(channel="bench", external_id=f"{tag}-{i}", chat_id=f"chat-{user}", user_id=user, text=text,
                    display_name="Sam")


def _per_message(counts: dict[str, Any], messages: int) -> dict[str, Any]:
    return {"statements": round(counts["statements"] / messages, 2),
            "transactions": round(counts["transactions"] / messages, 2),
            "by_verb": {k: round(v / messages, 2) for k, v in sorted(counts["by_verb"].items())}}


async def _measure(app: App, english: list[str], mixed: list[str], sequential: int = SEQUENTIAL,
                   batches: int = BATCHES) -> dict[str, Any]:
    channel = RecordingChannel(name="bench")
    app.pipeline.add_channel(channel)
    handle = app.pipeline.handle
    for i, text in enumerate(mixed[:20]):  # warm-up: first SQL statements, tokenizer caches
        await handle(_incoming("warm", i, text, 5))
    out: dict[str, Any] = {}
    counter = SQLCounter(app.store.engine).attach()
    for tag, pool in (("english", english), ("mixed", mixed)):
        lat = []
        counter.reset()
        for i in range(sequential):
            msg = _incoming(f"seq-{tag}", i, pool[i % len(pool)], 30)
            t0 = time.perf_counter()
            await handle(msg)
            lat.append(time.perf_counter() - t0)
        out[f"sequential_{tag}"] = {k: round(v, 2) for k, v in percentiles(lat).items()}
        worst = max(range(len(lat)), key=lat.__getitem__)  # which message a p99 outlier is
        out[f"sequential_{tag}"]["slowest"] = {"index": worst, "ms": round(lat[worst] * 1000, 1),
                                               "text": pool[worst % len(pool)][:60]}
        out[f"sql_per_message_sequential_{tag}"] = _per_message(counter.snapshot(), sequential)
    for tag, pool in (("english", english), ("mixed", mixed)):
        n = 0
        counter.reset()
        with Timer() as t:
            for b in range(batches):
                msgs = [_incoming(f"con-{tag}-{b}", j, pool[(b * CONCURRENT + j) % len(pool)], CONCURRENT)
                        for j in range(CONCURRENT)]
                await asyncio.gather(*(handle(m) for m in msgs))
                n += len(msgs)
        out[f"concurrent_{tag}"] = {"messages": n, "conversations": CONCURRENT, "seconds": round(t.seconds, 2),
                                    "msg_per_s": round(n / t.seconds, 1)}
        out[f"sql_per_message_concurrent_{tag}"] = _per_message(counter.snapshot(), n)
    counter.detach()
    out["sent"] = len(channel.sent)
    out["errors"] = app.pipeline.metrics.get("errors", 0)
    return out


def _load_seconds(model_dir: Path, runs: int = 3) -> float:
    """Median `NLUModel.load` time in a fresh interpreter (encoders are per-process singletons)."""
    times = []
    for _ in range(runs):
        res = subprocess.run([sys.executable, "-c", _LOAD_SNIPPET, str(model_dir)], cwd=REPO, check=True,
                             capture_output=True, text=True)
        times.append(float(json.loads(res.stdout.strip().splitlines()[-1])))
    return statistics.median(times)


def run_pipeline(data_dir: Path | None = None, nlu: dict[str, Any] | None = None, *, quick: bool = False,
                 name: str = "pipeline") -> dict[str, Any]:
    """The full run, or with `quick` 100 sequential messages per pool, 3 concurrent rounds and no
    fresh-process load timing (written to `benchmarks/results/<name>.json`)."""
    if nlu is None:  # what the demo runs: the NLU choices of the repository's config.yml
        demo = load_config(REPO / "config.yml").nlu
        nlu = {"encoder": demo.encoder, "features": list(demo.features), "finetune": demo.finetune}
    test = load_training_data([TEST_FILE])
    texts, _ = test.texts_and_labels()
    langs = languages(test)
    english = [t for t, lang in zip(texts, langs, strict=True) if lang == "en"]
    with tempfile.TemporaryDirectory(prefix="fancare-bench-") as tmp:
        cfg_path = write_config(Path(tmp) / "config.yml", nlu, store_url="sqlite:///bench.db")
        cfg = load_config(cfg_path)
        with Timer() as train_t:
            model = train_model(cfg)
        model.save(model_root(cfg))
        load_s = 0.0 if quick else _load_seconds(model_root(cfg))
        app = App(cfg, model=model)
        try:
            body = asyncio.run(_measure(app, english, texts, *((100, 3) if quick else (SEQUENTIAL, BATCHES))))
        finally:
            app.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    body.update(quick=quick, encoder=cfg.nlu.encoder, nlu_options=nlu, demo_train_s=round(train_t.seconds, 1),
                model_load_s=round(load_s, 2), peak_rss_mb=round(peak_mb, 1),
                goals={"p50_ms": 20, "p99_ms": 60, "msg_per_s": 150, "rss_mb": 700, "load_s": 3})
    rows = [{"measure": f"sequential {k} p50 / p99 ms",
             "value": f"{body[f'sequential_{k}']['p50_ms']} / {body[f'sequential_{k}']['p99_ms']}"}
            for k in ("english", "mixed")]
    rows += [{"measure": f"concurrent {k} msg/s", "value": body[f"concurrent_{k}"]["msg_per_s"]}
             for k in ("english", "mixed")]
    rows += [{"measure": f"SQL statements / transactions per message, {mode} {k}",
              "value": f"{body[f'sql_per_message_{mode}_{k}']['statements']} / "
                       f"{body[f'sql_per_message_{mode}_{k}']['transactions']}"}
             for mode in ("sequential", "concurrent") for k in ("english", "mixed")]
    rows += [{"measure": "peak RSS MB", "value": body["peak_rss_mb"]},
             {"measure": "model load s", "value": body["model_load_s"]},
             {"measure": "demo train s", "value": body["demo_train_s"]}]
    body["table"] = table(rows, ["measure", "value"])
    write_result(name, body)
    return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer messages, no load timing")
    parser.add_argument("--name", default="pipeline", help="result file name (default: pipeline)")
    args = parser.parse_args(argv)
    body = run_pipeline(quick=args.quick, name=args.name)
    print(body["table"])
    print(json.dumps({k: v for k, v in body.items() if k.startswith("sql_per_message")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
