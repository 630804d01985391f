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
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmarks.telegram_run import REPO, Replies, add_run_arguments, latency_summary, run_and_print, telegram_run

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


# -- replies to messages ------------------------------------------------------------------------------
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


# -- the run ------------------------------------------------------------------------------------------------
async def run_load(a: argparse.Namespace) -> dict[str, Any]:
    offers = schedule(a.rate, a.seconds, a.fans, a.seed)
    async with telegram_run(a, lift_limits=a.lift_limits, prefix="fancare-load-") as run:
        cluster, replies = run.cluster, run.replies
        pg0 = run.postgres_cpu()
        started = cluster.start()
        ready_s = await cluster.wait_ready()
        cluster.mark()
        pushed: dict[int, list[float]] = defaultdict(list)
        offered_at: list[tuple[float, int, int]] = []  # (time, chat, index of the message in its chat)
        async with run.feeder() as feeder:
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

            await run.wait_quiet(all_answered, a.max_drain, a.quiet)
            await feeder.drain()
        metrics, cpu = await run.measure(pg0)
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
    kinds: dict[str, int] = defaultdict(int)
    langs: dict[str, int] = defaultdict(int)
    for o in offers:
        kinds[o.kind] += 1
        langs[o.language] += 1
    return {
        **run.head(a, "python -m benchmarks.telegram_load"),
        "fans": a.fans, "mix": dict(kinds), "languages": dict(langs),
        "offered": len(offers), "offered_rate": round(len(offers) / max(offered_s, 1e-9), 1),
        "answered": answered, f"answered_within_{ANSWER_WINDOW_S:.0f}s_of_last": within,
        "held_msg_per_s": round(answered / max(held_span, 1e-9), 1),
        "replies_sent": replies.count, "seconds_to_ready": round(ready_s, 1),
        "since_spawn_to_first_offer_s": round(t0 - started, 1),
        "latency_ms": latency_summary(lat_all),
        f"latency_first_{FIRST_WINDOW_S:.0f}s_ms": latency_summary(lat_first),
        "latency_rest_ms": latency_summary(lat_rest),
        "metrics": {name: {k: v for k, v in m.items() if k in (
            "fancare_possible_duplicate_sends_total", "fancare_possible_duplicate_sends", "fancare_sent_messages",
            "fancare_sent_messages_total", "fancare_pipeline_errors", "fancare_pipeline_errors_total",
            "fancare_send_retries", "fancare_send_retries_total")} for name, m in metrics.items()},
        **run.tail(a, cpu, answered, feeder),
    }


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
    ap.add_argument("--seed", type=int, default=7)
    add_run_arguments(ap, max_drain_s=180.0, drain_help="wait at most this long after offering")
    return ap


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    a = parser().parse_args(argv)
    return run_and_print(a, run_load(a))


if __name__ == "__main__":
    main()
