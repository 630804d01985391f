"""What the Telegram load and storm benchmarks (benchmarks/telegram_load.py, storm.py) share: one run's
fake Bot API and fancare processes set up and torn down the same way, fan updates delivered as
Telegram would, sendMessage calls collected per chat, the options of how fancare is started, and the
result fields every run reports (CPU, store counts, webhook retries, the machine's load).

Both benchmarks must describe a run in the same terms (the same CPU split, the same store count, the
same latency summary) so their numbers can be set side by side in BENCHMARKS.md; one module keeps
those definitions from drifting apart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # tests.fakes (the fake Bot API) lives in the repository, not the package
    sys.path.insert(0, str(REPO))

from benchmarks.common import percentiles  # noqa: E402
from benchmarks.fancare_cluster import (  # noqa: E402
    SECRET_ENV,
    WEBHOOK_PATH,
    WEBHOOK_SECRET,
    Cluster,
    Settings,
    has_worker_role,
    postgres_cpu_seconds,
    postgres_url,
    wipe_database,
)


# -- offering: push into the fake (polling) or POST to the webhook ---------------------------------------------
class Feeder:
    """Delivers fan updates the way Telegram would: queued at the fake for getUpdates (polling), or
    POSTed to the receiver's webhook with the secret header, up to 40 at once (Telegram's default
    max_connections), a failed delivery retried after a second."""

    def __init__(self, fake: Any, mode: str, webhook_port: int) -> None:
        self.fake = fake
        self.mode = mode
        self.url = f"http://127.0.0.1:{webhook_port}{WEBHOOK_PATH}"
        self._sem = asyncio.Semaphore(40)
        self._session: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = iter(range(1_000_000, 10**9))
        self.retries = 0
        self.failed = 0

    async def __aenter__(self) -> Feeder:
        import aiohttp

        if self.mode == "webhook":
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30),
                                                  connector=aiohttp.TCPConnector(limit=40))
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def offer(self, chat: int, text: str, language: str) -> None:
        from tests.fakes.telegram_server import message, user

        update = {"update_id": next(self._ids),
                  "message": message(self.fake, chat, text, from_user=user(chat, language=language))}
        if self.mode == "polling":
            self.fake.push({"message": update["message"]}, update_id=update["update_id"])
            return
        task = asyncio.create_task(self._post(update))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, update: dict[str, Any], tries: int = 30) -> None:
        import aiohttp

        for _ in range(tries):
            try:
                async with self._sem, self._session.post(
                        self.url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}) as r:
                    if r.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            self.retries += 1
            await asyncio.sleep(1.0)
        self.failed += 1

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


class Replies:
    """sendMessage calls the fake accepted, by chat, with their arrival times (an `on_call` hook,
    so waiting does not rescan the fake's whole call list)."""

    def __init__(self, fake: Any) -> None:
        self.by_chat: dict[int, list[tuple[float, str]]] = defaultdict(list)
        self.count = 0
        self.last_at = 0.0
        fake.on_call.append(self._on_call)

    def _on_call(self, call: Any) -> None:
        if call.method == "sendMessage":
            self.by_chat[int(call.params["chat_id"])].append((call.at, str(call.params.get("text", ""))))
            self.count += 1
            self.last_at = call.at


async def wait_quiet(done: Callable[[], bool], replies: Replies, max_s: float, quiet_s: float) -> None:
    """Until `done()` or no reply came for `quiet_s` (or `max_s` passed)."""
    t0 = time.monotonic()
    seen, since = replies.count, time.monotonic()
    while time.monotonic() - t0 < max_s and not done():
        await asyncio.sleep(0.25)
        if replies.count != seen:
            seen, since = replies.count, time.monotonic()
        elif time.monotonic() - since > quiet_s:
            return


# -- what a run reports -------------------------------------------------------------------------------------
def latency_summary(values_ms: Sequence[float]) -> dict[str, float | int]:
    """p50/p90/p99/max in milliseconds, rounded to 0.1 ms (the percentiles are benchmarks/common.py's)."""
    if not values_ms:
        return {"n": 0}
    p = percentiles([v / 1000 for v in values_ms])
    return {"p50": round(p["p50_ms"], 1), "p90": round(p["p90_ms"], 1), "p99": round(p["p99_ms"], 1),
            "max": round(p["max_ms"], 1), "n": int(p["n"])}


def cpu_per_answer(cpu: dict[str, dict[str, float]], answered: int) -> float | None:
    """CPU milliseconds the fancare processes (not the benchmark, not PostgreSQL) spent per answer."""
    spent = sum(v["run_cpu_s"] for k, v in cpu.items() if k == "run" or k == "receiver" or k.startswith("worker"))
    return round(spent * 1000 / answered, 1) if answered else None


def handled_in_store(url: str) -> dict[str, int]:
    """Inbound messages by status and outbound by status, read from the run's database after it."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as c:
            rows = c.execute(text("SELECT direction, status, count(*) FROM messages GROUP BY direction, status"))
            return {f"{d}:{s}": int(n) for d, s, n in rows}
    finally:
        engine.dispose()


# -- one run: the fake Bot API and the fancare processes -------------------------------------------------------
@dataclass
class TelegramRun:
    """The fake Bot API, the fancare processes pointed at it and the replies it collects, for one run."""

    fake: Any
    cluster: Cluster
    replies: Replies
    store_url: str  # empty: the SQLite file in `folder`
    folder: Path
    lift_limits: bool

    def feeder(self) -> Feeder:
        """A `Feeder` to this run's fake (polling) or receiver's webhook, as the run's mode says."""
        return Feeder(self.fake, self.cluster.settings.mode, self.cluster.webhook_port)

    async def wait_quiet(self, done: Callable[[], bool], max_s: float, quiet_s: float) -> None:
        """`wait_quiet` on this run's replies."""
        await wait_quiet(done, self.replies, max_s, quiet_s)

    def postgres_cpu(self) -> float:
        """CPU seconds of the PostgreSQL server so far (0 on SQLite): read before the measured part."""
        return postgres_cpu_seconds() if self.store_url else 0.0

    async def measure(self, pg_cpu_at_start: float) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
        """`/metrics` and CPU seconds per process (PostgreSQL's since `pg_cpu_at_start`), read before the stop."""
        metrics = await self.cluster.metrics()
        cpu = self.cluster.cpu_report()
        if self.store_url:
            cpu["postgres (all server processes)"] = {"run_cpu_s": round(postgres_cpu_seconds() - pg_cpu_at_start, 1)}
        return metrics, cpu

    def head(self, a: argparse.Namespace, prog: str) -> dict[str, Any]:
        """The result's first fields: how it was run."""
        return {"command": " ".join([prog, *sys.argv[1:]]), "mode": a.mode, "db": a.db, "workers": a.workers,
                "rate_limits": "lifted" if self.lift_limits else "default"}

    def tail(self, a: argparse.Namespace, cpu: dict[str, dict[str, float]], answered: int,
             feeder: Feeder) -> dict[str, Any]:
        """The result's last fields (CPU, the store's count, webhook retries, the load); removes the
        run's folder unless `--keep`."""
        out: dict[str, Any] = {
            "cpu_seconds": cpu, "fancare_cpu_ms_per_answer": cpu_per_answer(cpu, answered),
            "store_messages": handled_in_store(self.store_url or f"sqlite:///{self.folder / 'fancare.db'}"),
            "webhook_retries": feeder.retries, "webhook_failed": feeder.failed,
            "load_avg_1m_at_end": os.getloadavg()[0], "cpus": os.cpu_count(),
        }
        if a.keep:
            out["folder"] = str(self.folder)
        self.cluster.cleanup(a.keep)
        return out


@contextlib.asynccontextmanager
async def telegram_run(a: argparse.Namespace, *, lift_limits: bool, prefix: str) -> AsyncIterator[TelegramRun]:
    """Set a run up from its options (PostgreSQL wiped first, the fake started, one config per process
    written in a fresh folder named `prefix...`); the processes and the fake are stopped on the way out.
    Starting the processes is the caller's, so it can time it."""
    from tests.fakes.telegram_server import FakeTelegram

    os.environ[SECRET_ENV] = WEBHOOK_SECRET
    if a.workers > 0 and not has_worker_role(a.fancare_src):
        raise SystemExit("--workers needs `fancare run --role receiver` and `fancare worker` (issue 14), which this "
                         "checkout does not have yet; run with --workers 0")
    store_url = postgres_url(a.db_url) if a.db == "postgres" else ""
    if store_url:
        wipe_database(store_url)
    fake = await FakeTelegram().start()
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    cluster = Cluster(Settings(mode=a.mode, workers=a.workers, store_url=store_url, lift_limits=lift_limits,
                               model_dir=a.model_dir, log_level=a.log_level,
                               source=a.fancare_src, models_in_place=a.models_in_place), fake.base_url, folder)
    cluster.prepare()
    try:
        yield TelegramRun(fake, cluster, Replies(fake), store_url, folder, lift_limits)
    finally:
        cluster.stop()
        await fake.stop()


# -- the command line -----------------------------------------------------------------------------------------
def add_run_arguments(ap: argparse.ArgumentParser, *, max_drain_s: float, drain_help: str) -> None:
    """The options both benchmarks take: the database, how fancare's processes are started, how long to
    wait for the last replies, and what to keep."""
    ap.add_argument("--db-url", help="PostgreSQL URL (WIPED first); default FANCARE_TEST_POSTGRES_URL")
    ap.add_argument("--model-dir", type=Path, default=REPO / "models", help="trained model (default models/)")
    ap.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                    help="override the shipped logging level (default: as shipped)")
    ap.add_argument("--models-in-place", action="store_true",
                    help="let fancare use --model-dir itself, caches it fills included (a restart); default: a "
                         "copy per run (a fresh deployment)")
    ap.add_argument("--fancare-src", type=Path, default=REPO,
                    help="the fancare tree to run (code, config.yml, data); default this checkout. E.g. "
                         "`git archive HEAD | tar -x -C /tmp/head` measures the last commit")
    ap.add_argument("--quiet", type=float, default=60.0, help="stop waiting after this long without a reply")
    ap.add_argument("--max-drain", type=float, default=max_drain_s, help=drain_help)
    ap.add_argument("--keep", action="store_true", help="keep the run's folder (configs, logs, SQLite file)")
    ap.add_argument("--out", type=Path, help="write the result JSON here too")


def run_and_print(a: argparse.Namespace, coro: Any) -> dict[str, Any]:
    """Run one benchmark (its options checked), print its result JSON and write it to `--out`."""
    if a.workers > 0 and a.db != "postgres":
        coro.close()
        raise SystemExit("--workers needs --db postgres (SQLite stays the single-process store)")
    result: dict[str, Any] = asyncio.run(coro)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text)
    return result
