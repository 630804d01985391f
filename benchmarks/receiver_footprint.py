"""What a receiver (`fancare run --role receiver`) costs to start and to keep: seconds until /readyz
answers 200, resident memory (RSS) then and after the background loaders had time to finish, the
peak, and whether torch was ever mapped into the process. Then it is fed `--updates` messages through
the fake Bot API and the same is read once they are all in the store (a receiver records them; no
worker runs here).

    scripts/with-postgres.sh .venv/bin/python -m benchmarks.receiver_footprint [--repeat 3]
    git archive HEAD | tar -x -C /tmp/head && scripts/with-postgres.sh .venv/bin/python \\
        -m benchmarks.receiver_footprint --fancare-src /tmp/head          # the last commit, to compare

The process is the `fancare` console script with a config derived from the shipped `config.yml`
(benchmarks/fancare_cluster.py), polling the fake Bot API; PostgreSQL is FANCARE_TEST_POSTGRES_URL (WIPED first) and migrated by
`fancare db upgrade` before the timed start, as a receiver joining a running deployment finds it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from benchmarks.fancare_cluster import REPO, Cluster, Settings, postgres_url, wipe_database


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS) of a live process in MB, from /proc."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def maps_torch(pid: int) -> bool:
    """Whether torch's shared library is mapped into the process (loaded, even if since unused)."""
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()


def inbound_count(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            return int(c.execute(text("SELECT count(*) FROM messages WHERE direction = 'in'")).scalar() or 0)
    finally:
        engine.dispose()


async def one_run(a: argparse.Namespace, store_url: str) -> dict[str, Any]:
    from tests.fakes.telegram_server import FakeTelegram, message, user

    wipe_database(store_url)
    fake = await FakeTelegram().start()
    folder = Path(tempfile.mkdtemp(prefix="fancare-receiver-"))
    cluster = Cluster(Settings(mode="polling", workers=1, store_url=store_url, model_dir=a.model_dir,
                               source=a.fancare_src, models_in_place=True), fake.base_url, folder)
    try:
        cluster.prepare()
        cluster.procs = cluster.procs[:1]  # the receiver only: no worker answers here
        cluster.upgrade()
        receiver = cluster.procs[0]
        cluster.start()
        start_s = await cluster.wait_ready(timeout_s=600)
        ready = proc_status(receiver.pid)
        await asyncio.sleep(a.settle)  # background loaders (a model's second encoder, the language identifier)
        settled = proc_status(receiver.pid)
        t0 = time.monotonic()
        for i in range(a.updates):
            chat = 9000 + i % 10
            fake.push({"message": message(fake, chat, f"where is my order? #{i}", from_user=user(chat))})
        while await asyncio.to_thread(inbound_count, store_url) < a.updates:
            if time.monotonic() - t0 > 120:
                raise SystemExit(f"the receiver recorded fewer than {a.updates} updates in 120 s; log: {receiver.log}")
            await asyncio.sleep(0.1)
        recorded_s = time.monotonic() - t0
        served = proc_status(receiver.pid)
        return {"start_s": round(start_s, 2), "rss_ready_mb": ready["VmRSS"], "rss_settled_mb": settled["VmRSS"],
                "rss_after_updates_mb": served["VmRSS"], "peak_rss_mb": served["VmHWM"],
                "torch_mapped": maps_torch(receiver.pid), "updates_recorded": a.updates,
                "record_s": round(recorded_s, 2), "load_avg_1m": round(os.getloadavg()[0], 2)}
    finally:
        cluster.stop()
        await fake.stop()
        cluster.cleanup(a.keep)


async def main_async(a: argparse.Namespace) -> dict[str, Any]:
    store_url = postgres_url(a.db_url)
    runs = [await one_run(a, store_url) for _ in range(a.repeat)]
    summary = {k: statistics.median(r[k] for r in runs) for k in
               ("start_s", "rss_ready_mb", "rss_settled_mb", "rss_after_updates_mb", "peak_rss_mb")}
    return {"source": str(a.fancare_src), "median": summary, "runs": runs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="receiver starts measured (median reported)")
    ap.add_argument("--updates", type=int, default=50, help="messages fed once it is ready")
    ap.add_argument("--settle", type=float, default=15.0, help="seconds between ready and the settled RSS")
    ap.add_argument("--db-url", help="PostgreSQL URL (WIPED first); default FANCARE_TEST_POSTGRES_URL")
    ap.add_argument("--model-dir", type=Path, default=REPO / "models", help="trained model (default models/)")
    ap.add_argument("--fancare-src", type=Path, default=REPO, help="the fancare tree to run (default this checkout)")
    ap.add_argument("--keep", action="store_true", help="keep each run's folder (config, log)")
    a = ap.parse_args()
    print(json.dumps(asyncio.run(main_async(a)), indent=2))


if __name__ == "__main__":
    main()
