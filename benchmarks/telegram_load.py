"""Telegram load benchmark: fancare started as a user starts it, fans writing through the fake Bot API.

`fancare run` (or one receiver and N `fancare worker` processes) runs as subprocesses with a config
derived from the shipped `config.yml`; this process serves the fake Bot API (tests/fakes/telegram_server.py)
and plays 200 fans. The message mix is the repository's own multi-turn conversations
(tests/conversations/*.yml): FAQ questions, order-status and refund forms with their follow-up
turns, complaints, small talk and thanks, mostly English with a little Spanish, German, French,
Italian and Portuguese. Messages are offered at a fixed rate on a schedule fixed in advance (seeded):
a follow-up turn comes a short think time after the fan's previous turn, whether or not the answer
came, as fans do when a bot is slow.

Measured at the fake server (what a fan sees): answered / offered, answered within 10 s of the last
message, reply latency (the fan's message offered -> the first sendMessage in that chat after it),
the rate held, latency over the first 5 s after readiness vs the rest (no stall at start), and CPU
seconds per process. Offering starts as soon as every process answers /readyz (no warm-up).

    .venv/bin/python -m benchmarks.telegram_load --rate 25 --seconds 20            # default rate limits
    .venv/bin/python -m benchmarks.telegram_load --rate 100 --lift-limits
    .venv/bin/python -m benchmarks.telegram_load --mode webhook --db postgres --workers 2 --lift-limits
    scripts/with-postgres.sh .venv/bin/python -m benchmarks.telegram_load --db postgres ...

Each run gets a copy of `--model-dir` (a fresh deployment: caches fancare fills start empty) unless
`--models-in-place`; `--fancare-src DIR` runs another tree, e.g. the last commit exported with
`git archive HEAD | tar -x -C DIR` while the checkout is being edited. With workers, `fancare db
upgrade` runs first (processes started at once on an empty PostgreSQL would all migrate).
Results so far: benchmarks/results/LOAD_DRAFT.md.

Replies are matched to messages per chat in order: message k's answer is the first reply in its chat
that arrives after it was offered and after the reply matched to message k-1. While answers come
faster than fans think (the goal) this is exact; under overload a second reply bubble of an earlier
answer can be taken for a later message's answer, so latency is then slightly understated (the
`handled_in_store` count cross-checks the answered count).
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

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

CONVERSATIONS = REPO / "tests" / "conversations"
#: files of fan-only conversations (the ops_* and operator files need an operator acting)
MIX_FILES = ("en_faq.yml", "en_happy.yml", "en_repair.yml", "en_regressions.yml", "examples.yml",
             "ml_de.yml", "ml_es.yml", "ml_fr.yml", "ml_it.yml", "ml_pt.yml", "ml_more.yml", "languages.yml")
#: share of conversations per kind (a quiet brand day: mostly questions, some tasks)
MIX_WEIGHTS = {"faq": 0.35, "order": 0.2, "refund": 0.1, "complaint": 0.1, "smalltalk": 0.15, "thanks": 0.1}
#: share of fans writing in each language ("several languages a little")
LANGUAGE_WEIGHTS = {"en": 0.85, "es": 0.04, "de": 0.04, "fr": 0.03, "it": 0.02, "pt": 0.02}
THINK_S = (1.5, 4.0)  # a fan's pause between one turn and the next
FIRST_WINDOW_S = 5.0  # "no stall at start": latency of messages offered in the first seconds
ANSWER_WINDOW_S = 10.0  # answered within this long after the last message counts as held
FAN_BASE = 10_000


# -- the message mix ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Script:
    """One fan conversation from tests/conversations: its kind, language and the fan's turns."""

    name: str
    kind: str
    language: str
    turns: tuple[str, ...]


def _kind(steps: Sequence[dict[str, Any]]) -> str | None:
    """What a conversation is about, from the replies its test expects (None: not used in the mix)."""
    utters: list[str] = []
    for s in steps:
        u = s.get("utter")
        utters += [str(x) for x in u] if isinstance(u, list) else [str(u)] if u else []
    if any(k in s for s in steps for k in ("operator", "button", "buttons")):
        return None
    if "utter_ask_refund_order_number" in utters or "utter_refund_escalated" in utters:
        return "refund"
    if any(u in utters for u in ("utter_ask_order_number", "utter_ask_order_proof", "utter_order_status")):
        return "order"
    if any(u in utters for u in ("utter_complaint_escalated", "utter_ask_complaint_details", "utter_crisis")):
        return "complaint"
    if any("article" in s for s in steps) or "utter_faq_answer" in utters:
        return "faq"
    if "utter_thanks" in utters:
        return "thanks"
    if any(u in utters for u in ("utter_greet", "utter_goodbye", "utter_praise")):
        return "smalltalk"
    return None


def load_scripts(folder: Path = CONVERSATIONS, files: Sequence[str] = MIX_FILES) -> list[Script]:
    """The conversations usable as fan traffic; a file that does not parse names itself."""
    out: list[Script] = []
    for name in files:
        path = folder / name
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise SystemExit(f"{path}: cannot read the conversations ({exc})") from exc
        for i, conv in enumerate(data.get("conversations") or []):
            steps = conv.get("steps") or []
            turns = tuple(s["user"] for s in steps if isinstance(s.get("user"), str) and s["user"].strip())
            kind = _kind(steps)
            if kind is None or not turns:
                continue
            out.append(Script(str(conv.get("name") or f"{name}#{i}"), kind, str(conv.get("language") or "en"), turns))
    return out


def pools(scripts: Sequence[Script]) -> dict[str, dict[str, list[Script]]]:
    """Scripts by kind, then language."""
    by: dict[str, dict[str, list[Script]]] = defaultdict(lambda: defaultdict(list))
    for s in scripts:
        by[s.kind][s.language].append(s)
    missing = [k for k in MIX_WEIGHTS if not by.get(k, {}).get("en")]
    if missing:
        raise SystemExit(f"{CONVERSATIONS}: no English conversation of kind {missing} for the mix")
    return by


@dataclass(order=True)
class Offer:
    """One fan message at its place in the schedule (seconds after the start of offering)."""

    at: float
    fan: int = field(compare=False)
    text: str = field(compare=False)
    kind: str = field(compare=False)
    language: str = field(compare=False)
    script: str = field(compare=False, default="")  # the conversation's name in tests/conversations
    turn: int = field(compare=False, default=0)  # the fan's turn in it (0: the conversation starts)


def schedule(rate: float, seconds: float, fans: int, seed: int = 7) -> list[Offer]:
    """`rate * seconds` messages at fixed intervals. Each slot goes to a fan whose next turn is due,
    else to an idle fan starting a new conversation, else (every fan mid-conversation) to the fan
    whose next turn is due soonest (it writes a little early)."""
    rnd = random.Random(seed)
    by = pools(load_scripts())
    langs = list(LANGUAGE_WEIGHTS)
    fan_lang = {FAN_BASE + i: rnd.choices(langs, weights=[LANGUAGE_WEIGHTS[x] for x in langs])[0]
                for i in range(fans)}
    kinds = list(MIX_WEIGHTS)
    idle = list(fan_lang)
    rnd.shuffle(idle)
    due: list[tuple[float, int]] = []  # (due time, fan)
    rest: dict[int, tuple[Script, int]] = {}  # fan -> (script, index of its next turn)
    out: list[Offer] = []
    for i in range(int(rate * seconds)):
        t = i / rate
        if due and (due[0][0] <= t or not idle):
            _, fan = heapq.heappop(due)
            script, k = rest.pop(fan)
        elif idle:
            fan = idle.pop(rnd.randrange(len(idle)))
            kind = rnd.choices(kinds, weights=[MIX_WEIGHTS[k] for k in kinds])[0]
            candidates = by[kind].get(fan_lang[fan]) or by[kind]["en"]
            script, k = rnd.choice(candidates), 0
        else:
            break  # no fan at all (fans == 0)
        out.append(Offer(t, fan, script.turns[k], script.kind, script.language, script.name, k))
        if k + 1 < len(script.turns):
            rest[fan] = (script, k + 1)
            heapq.heappush(due, (t + rnd.uniform(*THINK_S), fan))
        else:
            idle.append(fan)
    return out


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


def match(pushed: dict[int, list[float]], replies: Replies) -> dict[int, list[float | None]]:
    """Per chat, each message's answer time (None: unanswered), matched in order (module docstring)."""
    out: dict[int, list[float | None]] = {}
    for chat, times in pushed.items():
        got = [t for t, _ in replies.by_chat.get(chat, [])]
        j = 0
        answers: list[float | None] = []
        for p in times:
            while j < len(got) and got[j] < p:
                j += 1
            answers.append(got[j] if j < len(got) else None)
            j += 1 if j < len(got) else 0
        out[chat] = answers
    return out


def latency_summary(values_ms: Sequence[float]) -> dict[str, float | int]:
    if not values_ms:
        return {"n": 0}
    a = np.asarray(values_ms)
    return {"p50": round(float(np.percentile(a, 50)), 1), "p90": round(float(np.percentile(a, 90)), 1),
            "p99": round(float(np.percentile(a, 99)), 1), "max": round(float(a.max()), 1), "n": int(a.size)}


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


async def wait_quiet(done: Any, replies: Replies, max_s: float, quiet_s: float) -> None:
    """Until `done()` or no reply came for `quiet_s` (or `max_s` passed)."""
    t0 = time.monotonic()
    seen, since = replies.count, time.monotonic()
    while time.monotonic() - t0 < max_s and not done():
        await asyncio.sleep(0.25)
        if replies.count != seen:
            seen, since = replies.count, time.monotonic()
        elif time.monotonic() - since > quiet_s:
            return


# -- the run ------------------------------------------------------------------------------------------------
async def run_load(a: argparse.Namespace) -> dict[str, Any]:
    from tests.fakes.telegram_server import FakeTelegram

    os.environ[SECRET_ENV] = WEBHOOK_SECRET
    if a.workers > 0 and not has_worker_role(a.fancare_src):
        raise SystemExit("--workers needs `fancare run --role receiver` and `fancare worker` (issue 14), which this "
                         "checkout does not have yet; run with --workers 0")
    store_url = postgres_url(a.db_url) if a.db == "postgres" else ""
    if store_url:
        wipe_database(store_url)
    offers = schedule(a.rate, a.seconds, a.fans, a.seed)
    fake = await FakeTelegram().start()
    folder = Path(tempfile.mkdtemp(prefix="fancare-load-"))
    cluster = Cluster(Settings(mode=a.mode, workers=a.workers, store_url=store_url, lift_limits=a.lift_limits,
                               model_dir=a.model_dir, log_level=a.log_level,
                               source=a.fancare_src, models_in_place=a.models_in_place), fake.base_url, folder)
    cluster.prepare()
    replies = Replies(fake)
    pg0 = postgres_cpu_seconds() if store_url else 0.0
    try:
        started = cluster.start()
        ready_s = await cluster.wait_ready()
        cluster.mark()
        pushed: dict[int, list[float]] = defaultdict(list)
        offered_at: list[tuple[float, int, int]] = []  # (time, chat, index of the message in its chat)
        async with Feeder(fake, a.mode, cluster.webhook_port) as feeder:
            t0 = time.monotonic()
            for o in offers:
                delay = t0 + o.at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                now = time.monotonic()
                feeder.offer(o.fan, o.text, o.language)
                offered_at.append((now, o.fan, len(pushed[o.fan])))
                pushed[o.fan].append(now)
            offered_s = time.monotonic() - t0
            last_offer = time.monotonic()

            def all_answered() -> bool:
                return all(len(replies.by_chat.get(c, ())) >= len(v) for c, v in pushed.items()) and all(
                    x is not None for v in match(pushed, replies).values() for x in v)

            await wait_quiet(all_answered, replies, a.max_drain, a.quiet)
            await feeder.drain()
        metrics = await cluster.metrics()
        cpu = cluster.cpu_report()
        if store_url:
            cpu["postgres (all server processes)"] = {"run_cpu_s": round(postgres_cpu_seconds() - pg0, 1)}
    finally:
        cluster.stop()
        await fake.stop()
    answers = match(pushed, replies)
    lat_all: list[float] = []
    lat_first: list[float] = []
    lat_rest: list[float] = []
    answered = within = 0
    for at, chat, k in offered_at:
        ans = answers[chat][k]
        if ans is None:
            continue
        answered += 1
        within += ans <= last_offer + ANSWER_WINDOW_S
        ms = (ans - at) * 1000
        lat_all.append(ms)
        (lat_first if at - t0 < FIRST_WINDOW_S else lat_rest).append(ms)
    held_span = max(replies.last_at, last_offer) - t0
    store = handled_in_store(store_url or f"sqlite:///{folder / 'fancare.db'}")
    kinds: dict[str, int] = defaultdict(int)
    langs: dict[str, int] = defaultdict(int)
    for o in offers:
        kinds[o.kind] += 1
        langs[o.language] += 1
    result: dict[str, Any] = {
        "command": " ".join(["python -m benchmarks.telegram_load", *sys.argv[1:]]),
        "mode": a.mode, "db": a.db, "workers": a.workers, "rate_limits": "lifted" if a.lift_limits else "default",
        "fans": a.fans, "mix": dict(kinds), "languages": dict(langs),
        "offered": len(offers), "offered_rate": round(len(offers) / max(offered_s, 1e-9), 1),
        "answered": answered, f"answered_within_{ANSWER_WINDOW_S:.0f}s_of_last": within,
        "held_msg_per_s": round(answered / max(held_span, 1e-9), 1),
        "replies_sent": replies.count, "seconds_to_ready": round(ready_s, 1),
        "since_spawn_to_first_offer_s": round(t0 - started, 1),
        "latency_ms": latency_summary(lat_all),
        f"latency_first_{FIRST_WINDOW_S:.0f}s_ms": latency_summary(lat_first),
        "latency_rest_ms": latency_summary(lat_rest),
        "cpu_seconds": cpu, "fancare_cpu_ms_per_answer": cpu_per_answer(cpu, answered), "store_messages": store,
        "webhook_retries": feeder.retries, "webhook_failed": feeder.failed,
        "metrics": {name: {k: v for k, v in m.items() if k in (
            "fancare_possible_duplicate_sends_total", "fancare_possible_duplicate_sends", "fancare_sent_messages",
            "fancare_sent_messages_total", "fancare_pipeline_errors", "fancare_pipeline_errors_total",
            "fancare_send_retries", "fancare_send_retries_total")} for name, m in metrics.items()},
        "load_avg_1m_at_end": os.getloadavg()[0], "cpus": os.cpu_count(),
    }
    if a.keep:
        result["folder"] = str(folder)
    cluster.cleanup(a.keep)
    return result


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.telegram_load",
                                 description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--rate", type=float, default=25, help="messages offered per second (default 25)")
    ap.add_argument("--seconds", type=float, default=20, help="how long messages are offered (default 20)")
    ap.add_argument("--fans", type=int, default=200, help="distinct fans (private chats), default 200")
    ap.add_argument("--lift-limits", action="store_true",
                    help="lift Telegram's rate limits in the config (default: the shipped, Telegram's own)")
    ap.add_argument("--mode", choices=("polling", "webhook"), default="polling")
    ap.add_argument("--workers", type=int, default=0,
                    help="0: one `fancare run`; N: one receiver + N `fancare worker` processes (PostgreSQL)")
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--db-url", help="PostgreSQL URL (WIPED first); default FANCARE_TEST_POSTGRES_URL")
    add_process_arguments(ap)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--quiet", type=float, default=60.0, help="stop waiting after this long without a reply")
    ap.add_argument("--max-drain", type=float, default=180.0, help="wait at most this long after offering")
    ap.add_argument("--keep", action="store_true", help="keep the run's folder (configs, logs, SQLite file)")
    ap.add_argument("--out", type=Path, help="write the result JSON here too")
    return ap


def add_process_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of how fancare's processes are started, shared with benchmarks/storm.py."""
    ap.add_argument("--model-dir", type=Path, default=REPO / "models", help="trained model (default models/)")
    ap.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                    help="override the shipped logging level (default: as shipped)")
    ap.add_argument("--models-in-place", action="store_true",
                    help="let fancare use --model-dir itself, caches it fills included (a restart); default: a "
                         "copy per run (a fresh deployment)")
    ap.add_argument("--fancare-src", type=Path, default=REPO,
                    help="the fancare tree to run (code, config.yml, data); default this checkout. E.g. "
                         "`git archive HEAD | tar -x -C /tmp/head` measures the last commit")


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


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    a = parser().parse_args(argv)
    return run_and_print(a, run_load(a))


if __name__ == "__main__":
    main()
