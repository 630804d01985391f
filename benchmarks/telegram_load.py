"""Telegram load benchmark: N simulated fans write to the bot through the fake Bot API server.

The real python-telegram-bot client polls the fake server (tests/fakes/telegram_server.py) on
127.0.0.1; fancare runs its full pipeline (SQLite store, real model) and answers. We offer messages at
a fixed rate and measure the rate held and the reply latency (update pushed -> sendMessage received
by the server, so it includes polling, NLU, dialog, the store and the send).

    .venv/bin/python -m benchmarks.telegram_load [--rate 100] [--seconds 20] [--fans 400]

Telegram's own flood limits (30 msg/s overall) are raised here: the fake server has none, and the
goal (100 msg/s, p99 < 250 ms) is about fancare's own capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

MESSAGES = [
    "hi!", "where is my order VT-482913?", "how long does shipping to france take", "thanks a lot",
    "is the buds pro waterproof?", "can I pay with paypal", "do you have a student discount?",
    "do you ship to the US?", "what's the warranty on the arc speaker", "hello there 👋",
    "how do I pair my earbuds", "love the new Pulse 3!", "¿cuánto tarda el envío a España?",
    "what is the battery life of the buds lite", "bye!",
]


async def main_async(rate: float, seconds: float, fans: int, out: Path | None) -> dict[str, Any]:
    import yaml

    from bot.app import App
    from bot.channels.telegram import TelegramService
    from bot.config import load_config
    from tests.fakes.telegram_server import TOKEN, FakeTelegram, message, user

    fake = await FakeTelegram().start()
    tmp = Path(tempfile.mkdtemp(prefix="fancare-tgload-"))
    os.environ["FANCARE_BENCH_TG_TOKEN"] = TOKEN
    cfg_data = yaml.safe_load((REPO / "config.yml").read_text())
    cfg_data["store"] = {"url": f"sqlite:///{tmp / 'bench.db'}"}
    for section, key in (("nlu", "model_dir"),):
        cfg_data[section][key] = str(REPO / cfg_data[section][key])
    cfg_data["nlu"]["training_data"] = [str(REPO / "training_data")]
    cfg_data["knowledge_base"]["path"] = str(REPO / "knowledge_base/articles")
    cfg_data["dialogs"]["domain"] = str(REPO / "dialogs/domain.yml")
    cfg_data["orders"]["demo_table"] = str(REPO / "dialogs/demo_orders.csv")
    cfg_data["logging"] = {"level": "WARNING"}
    cfg_data.setdefault("channels", {})["telegram"] = {
        "token": "${FANCARE_BENCH_TG_TOKEN}", "base_url": fake.base_url, "poll_timeout_s": 1,
        "typing_indicator": False, "max_concurrency": 256,
        "rate_limits": {"overall_per_s": 10000, "chat_per_s": 100, "group_per_min": 10000}}
    (tmp / "config.yml").write_text(yaml.safe_dump(cfg_data))
    app = App(load_config(tmp / "config.yml"))
    service = TelegramService(app, app.cfg.channels.telegram)  # type: ignore[arg-type]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(service.run(stop)), asyncio.create_task(app.pipeline.run_outbox(0.5, stop))]
    await asyncio.wait_for(service.ready.wait(), 30)

    # warm-up: every encoder and the knowledge base answer once before we measure
    for i, text in enumerate(MESSAGES):
        fake.push({"message": message(fake, 9_000_000 + i, text, from_user=user(9_000_000 + i))})
    await fake.wait_for(lambda: len(fake.calls_of("sendMessage")) >= len(MESSAGES) - 1, 60)

    pushed: dict[int, float] = {}
    base = len(fake.calls_of("sendMessage"))
    rnd = random.Random(7)
    n = int(rate * seconds)
    start = time.monotonic()
    for i in range(n):
        target = start + i / rate
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        chat = 1_000 + rnd.randrange(fans)
        fake.push({"message": message(fake, chat, rnd.choice(MESSAGES), from_user=user(chat))})
        pushed.setdefault(chat, time.monotonic())
    offered_s = time.monotonic() - start
    expected = base + n
    last = (0, time.monotonic())
    while time.monotonic() - start < seconds + 120:  # until every reply is out or none came for 5 s
        await asyncio.sleep(0.25)
        sent_now = len(fake.calls_of("sendMessage"))
        if sent_now >= expected:
            break
        if sent_now != last[0]:
            last = (sent_now, time.monotonic())
        elif time.monotonic() - last[1] > 5:
            break
    calls = fake.calls_of("sendMessage")
    done_s = (calls[-1].at if calls else time.monotonic()) - start
    # latency per reply: first reply in each chat minus that chat's first push
    first_reply: dict[int, float] = {}
    for c in fake.calls_of("sendMessage"):
        chat = int(c.params["chat_id"])
        if chat in pushed and chat not in first_reply:
            first_reply[chat] = c.at
    lat = sorted((first_reply[c] - pushed[c]) * 1000 for c in first_reply)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    await fake.stop()
    app.close()
    replies = len(fake.calls_of("sendMessage")) - base
    result = {
        "offered_msgs": n, "offered_rate": round(n / offered_s, 1), "replies": replies,
        "held_rate": round(replies / done_s, 1), "seconds": round(done_s, 1), "fans": fans,
        "latency_ms": {"p50": round(statistics.median(lat), 1), "p90": round(lat[int(len(lat) * 0.9)], 1),
                       "p99": round(lat[int(len(lat) * 0.99)], 1), "n": len(lat)},
        "encoder": app.model.route,
    }
    print(json.dumps(result, indent=2))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=100)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--fans", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/results/telegram_load.json")
    a = ap.parse_args()
    asyncio.run(main_async(a.rate, a.seconds, a.fans, a.out))


if __name__ == "__main__":
    main()
