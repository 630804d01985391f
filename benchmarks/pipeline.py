"""End-to-end latency and throughput of `Pipeline.handle` on SQLite, as `fancare run` wires it.

One process, `App(cfg)` with the demo model trained here (the NLU options of the repository's
`config.yml`, real encoders, no embedding cache), a `RecordingChannel` as the platform. Measures:
- sequential latency of one fan message (persist, lock, moderation, NLU, policy, commit, send), p50/p99
  over English messages and over the 11-language mix;
- sustained msg/s with 64 conversations writing at once (`asyncio.gather`), where `NLUService`
  batches the messages that arrive together;
- model load time (`NLUModel.load`, fresh process) and peak RSS of this process.
"""

from __future__ import annotations

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


async def _measure(app: App, english: list[str], mixed: list[str]) -> dict[str, Any]:
    channel = RecordingChannel(name="bench")
    app.pipeline.add_channel(channel)
    handle = app.pipeline.handle
    for i, text in enumerate(mixed[:20]):  # warm-up: first SQL statements, tokenizer caches
        await handle(_incoming("warm", i, text, 5))
    out: dict[str, Any] = {}
    for tag, pool in (("english", english), ("mixed", mixed)):
        lat = []
        for i in range(SEQUENTIAL):
            msg = _incoming(f"seq-{tag}", i, pool[i % len(pool)], 30)
            t0 = time.perf_counter()
            await handle(msg)
            lat.append(time.perf_counter() - t0)
        out[f"sequential_{tag}"] = {k: round(v, 2) for k, v in percentiles(lat).items()}
    for tag, pool in (("english", english), ("mixed", mixed)):
        n = 0
        with Timer() as t:
            for b in range(BATCHES):
                msgs = [_incoming(f"con-{tag}-{b}", j, pool[(b * CONCURRENT + j) % len(pool)], CONCURRENT)
                        for j in range(CONCURRENT)]
                await asyncio.gather(*(handle(m) for m in msgs))
                n += len(msgs)
        out[f"concurrent_{tag}"] = {"messages": n, "conversations": CONCURRENT, "seconds": round(t.seconds, 2),
                                    "msg_per_s": round(n / t.seconds, 1)}
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


def run_pipeline(data_dir: Path | None = None, nlu: dict[str, Any] | None = None) -> dict[str, Any]:
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
        load_s = _load_seconds(model_root(cfg))
        app = App(cfg, model=model)
        try:
            body = asyncio.run(_measure(app, english, texts))
        finally:
            app.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    body.update(encoder=cfg.nlu.encoder, nlu_options=nlu, demo_train_s=round(train_t.seconds, 1),
                model_load_s=round(load_s, 2), peak_rss_mb=round(peak_mb, 1),
                goals={"p50_ms": 20, "p99_ms": 60, "msg_per_s": 150, "rss_mb": 700, "load_s": 3})
    rows = [{"measure": f"sequential {k} p50 / p99 ms",
             "value": f"{body[f'sequential_{k}']['p50_ms']} / {body[f'sequential_{k}']['p99_ms']}"}
            for k in ("english", "mixed")]
    rows += [{"measure": f"concurrent {k} msg/s", "value": body[f"concurrent_{k}"]["msg_per_s"]}
             for k in ("english", "mixed")]
    rows += [{"measure": "peak RSS MB", "value": body["peak_rss_mb"]},
             {"measure": "model load s", "value": body["model_load_s"]},
             {"measure": "demo train s", "value": body["demo_train_s"]}]
    body["table"] = table(rows, ["measure", "value"])
    write_result("pipeline", body)
    return body
