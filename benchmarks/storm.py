"""Storm benchmark: a crisis burst (300 msg/s for 60 s by default) at a receiver and 2 workers on
PostgreSQL in webhook mode, optionally with one worker killed (SIGKILL) in the middle.

Every fan message is an FAQ question whose answer is recognisable: before the storm, each candidate
question is asked once in a fresh chat and its reply texts recorded (this calibration also warms the
processes); questions whose first reply is not unique are dropped. During the storm each fan asks
the kept questions in its own shuffled order, so the reply texts the fake server receives say which
of the fan's messages each one answers. From that:

- lost: messages with no answer once the backlog drained (must be 0); a reply that names no
  question (counted as unrecognised) answers the fan's earliest open message, its order unchecked;
- out of order: answers that arrived after the answer to a later message of the same fan (must be 0);
- duplicates: recognised answers beyond one per message, compared with the workers'
  `fancare_possible_duplicate_sends` counter from /metrics (sends in flight at the kill);
- reply latency p50/p90/p99 (offered -> first answer), the rate held, and the drain time (the end of
  offering -> the last answer).

    scripts/with-postgres.sh .venv/bin/python -m benchmarks.storm                 # 300 msg/s, 60 s, 2 workers
    scripts/with-postgres.sh .venv/bin/python -m benchmarks.storm --kill-at 30 --restart-after 5
    .venv/bin/python -m benchmarks.storm --db sqlite --workers 0 --rate 60 --seconds 15   # one `fancare run`

Telegram's rate limits are lifted in the config by default (a storm at Telegram's 30 msg/s would take
10 minutes to drain whatever fancare does); `--default-limits` keeps the shipped ones. With
`--workers 0` the kill hits the only process, so it is always restarted (`--restart-after`, default 3 s).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.telegram_load import load_scripts
from benchmarks.telegram_run import (
    Feeder,
    Replies,
    add_run_arguments,
    latency_summary,
    run_and_print,
    telegram_run,
    wait_quiet,
)

CALIBRATION_BASE = 8_000_000  # chat ids of the calibration questions (one fresh chat each)
FAN_BASE = 20_000


@dataclass(frozen=True)
class Question:
    """An FAQ question and the reply texts it got when asked in a fresh chat (the first one names it)."""

    text: str
    first: str
    others: tuple[str, ...]


def candidates() -> list[str]:
    """Single-turn English FAQ questions from tests/conversations (answered from one article)."""
    seen: dict[str, None] = {}
    for s in load_scripts():
        if s.kind == "faq" and s.language == "en" and len(s.turns) == 1:
            seen.setdefault(s.turns[0], None)
    return list(seen)


async def calibrate(feeder: Feeder, replies: Replies, texts: Sequence[str]) -> list[Question]:
    """Ask each question in a fresh chat and again in a chat that asked another question first; keep
    those whose first reply is the same both times, is no other question's, and is not the fallback
    (what a nonsense message gets): an answer that depends on the conversation cannot name a message."""
    n = len(texts)
    fresh = [CALIBRATION_BASE + i for i in range(n)]
    second = [CALIBRATION_BASE + n + i for i in range(n)]
    probe = CALIBRATION_BASE + 2 * n
    for i, text in enumerate(texts):
        feeder.offer(fresh[i], text, "en")
        feeder.offer(second[i], texts[(i + 1) % n], "en")
    feeder.offer(probe, "zxqv blorf wint quop", "en")
    chats = [*fresh, *second, probe]
    await wait_quiet(lambda: all(replies.by_chat.get(c) for c in chats), replies, 180, 30)
    await asyncio.sleep(2.0)  # the second bubbles of an answer
    asked_again = time.monotonic()
    for i, text in enumerate(texts):
        feeder.offer(second[i], text, "en")
    await wait_quiet(lambda: all(any(t > asked_again for t, _ in replies.by_chat.get(c, ())) for c in second),
                     replies, 180, 30)
    await asyncio.sleep(2.0)
    got = {c: [t for _, t in replies.by_chat.get(c, [])] for c in [*fresh, probe]}
    again = {c: [t for at, t in replies.by_chat.get(c, []) if at > asked_again] for c in second}
    fallback = got[probe][0] if got[probe] else None
    firsts = [got[c][0] for c in fresh if got[c]]
    kept = [Question(text, got[fresh[i]][0], tuple(got[fresh[i]][1:])) for i, text in enumerate(texts)
            if got[fresh[i]] and again[second[i]] and got[fresh[i]][0] == again[second[i]][0]
            and got[fresh[i]][0] != fallback and firsts.count(got[fresh[i]][0]) == 1]
    if len(kept) < 3:
        raise SystemExit(f"calibration: only {len(kept)} of {n} FAQ questions have a reply of their own "
                         f"(need 3 to check order)")
    return kept


@dataclass
class Sent:
    at: float
    fan: int
    question: int  # index into the kept questions


def plan(rate: float, seconds: float, fans: int, n_questions: int, seed: int) -> list[tuple[float, int, int]]:
    """(offset s, fan, question) at fixed intervals; each fan cycles through its own question order."""
    rnd = random.Random(seed)
    orders = {FAN_BASE + f: rnd.sample(range(n_questions), n_questions) for f in range(fans)}
    counts: dict[int, int] = defaultdict(int)
    out = []
    for i in range(int(rate * seconds)):
        fan = FAN_BASE + rnd.randrange(fans)
        order = orders[fan]
        out.append((i / rate, fan, order[counts[fan] % n_questions]))
        counts[fan] += 1
    return out


def judge(sent: Sequence[Sent], replies: Replies, questions: Sequence[Question]) -> dict[str, Any]:
    """Match answers to messages per fan (by question), then count lost, duplicate, out-of-order."""
    first_of = {q.first: i for i, q in enumerate(questions)}
    bubbles = {t for q in questions for t in q.others} - set(first_of)
    by_fan: dict[int, list[int]] = defaultdict(list)  # fan -> indices into `sent`, in offered order
    for k, s in enumerate(sent):
        by_fan[s.fan].append(k)
    answered_at: dict[int, float] = {}
    duplicates = unrecognised = extra = out_of_order = 0
    fans_out_of_order: set[int] = set()
    unrecognised_examples: list[str] = []
    for fan, ks in by_fan.items():
        latest_seq = -1
        unnamed: list[tuple[float, str]] = []
        for at, text in replies.by_chat.get(fan, []):
            q = first_of.get(text)
            if q is None:
                if text not in bubbles:
                    unnamed.append((at, text))
                continue
            # the earliest message of this fan with that question, offered before the reply, not answered yet
            pos = next((n for n, k in enumerate(ks) if sent[k].question == q and k not in answered_at
                        and sent[k].at <= at), None)
            if pos is None:
                duplicates += 1
                continue
            answered_at[ks[pos]] = at
            if pos < latest_seq:
                out_of_order += 1
                fans_out_of_order.add(fan)
            latest_seq = max(latest_seq, pos)
        # replies that name no question answer, after the named ones are matched, the fan's earliest
        # message still open (order unchecked); beyond that they are notes, e.g. "one moment"
        for at, text in unnamed:
            unrecognised += 1
            if len(unrecognised_examples) < 3:
                unrecognised_examples.append(text[:80])
            pos = next((n for n, k in enumerate(ks) if k not in answered_at and sent[k].at <= at), None)
            if pos is None:
                extra += 1
            else:
                answered_at[ks[pos]] = at
    lost = [k for k in range(len(sent)) if k not in answered_at]
    return {"answered_at": answered_at, "lost": len(lost), "duplicates": duplicates, "out_of_order": out_of_order,
            "fans_out_of_order": len(fans_out_of_order), "unrecognised_replies": unrecognised,
            "unrecognised_examples": unrecognised_examples, "unrecognised_beyond_one_per_message": extra,
            "lost_examples": [{"fan": sent[k].fan, "question": questions[sent[k].question].text} for k in lost[:5]]}


async def run_storm(a: argparse.Namespace) -> dict[str, Any]:
    victim = "worker-1" if a.workers > 0 else "run"
    restart_after = a.restart_after if a.restart_after is not None else (3.0 if a.workers == 0 else None)
    events: list[str] = []
    sent: list[Sent] = []
    async with telegram_run(a, lift_limits=not a.default_limits, prefix="fancare-storm-") as run:
        cluster, replies = run.cluster, run.replies
        cluster.start()
        ready_s = await cluster.wait_ready()
        async with run.feeder() as feeder:
            questions = await calibrate(feeder, replies, candidates())
            cluster.mark()
            pg0 = run.postgres_cpu()
            base_calls = replies.count
            t0 = time.monotonic()
            killed_at: float | None = None
            restarted = False
            for offset, fan, q in plan(a.rate, a.seconds, a.fans, len(questions), a.seed):
                delay = t0 + offset - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                now = time.monotonic()
                if a.kill_at is not None and killed_at is None and now - t0 >= a.kill_at:
                    cluster.kill(victim)
                    killed_at = now
                    events.append(f"{now - t0:.1f} s: SIGKILL {victim}")
                if (killed_at is not None and not restarted and restart_after is not None
                        and now - killed_at >= restart_after):
                    cluster.restart(next(p for p in cluster.procs if p.name == victim))
                    restarted = True
                    events.append(f"{now - t0:.1f} s: restarted {victim}")
                feeder.offer(fan, questions[q].text, "en")
                sent.append(Sent(now, fan, q))
            offered_s = time.monotonic() - t0
            end_offer = time.monotonic()
            if killed_at is not None and not restarted and restart_after is not None:
                await asyncio.sleep(max(0.0, killed_at + restart_after - time.monotonic()))
                cluster.restart(next(p for p in cluster.procs if p.name == victim))
                events.append(f"{time.monotonic() - t0:.1f} s: restarted {victim}")
            await feeder.drain()
            fans = {s.fan for s in sent}
            expected = len(sent)

            def done() -> bool:
                return sum(len(replies.by_chat.get(f, ())) for f in fans) >= expected and judge(
                    sent, replies, questions)["lost"] == 0

            await run.wait_quiet(done, a.max_drain, a.quiet)
        metrics, cpu = await run.measure(pg0)
    verdict = judge(sent, replies, questions)
    answered_at: dict[int, float] = verdict.pop("answered_at")
    lat = [(answered_at[k] - s.at) * 1000 for k, s in enumerate(sent) if k in answered_at]
    last_answer = max(answered_at.values(), default=end_offer)
    dup_metric = sum(m.get("fancare_possible_duplicate_sends_total", m.get("fancare_possible_duplicate_sends", 0.0))
                     for m in metrics.values())
    return {
        **run.head(a, "python -m benchmarks.storm"),
        "fans": a.fans,
        "questions": len(questions), "offered": len(sent), "offered_rate": round(len(sent) / max(offered_s, 1e-9), 1),
        "answered": len(answered_at), **verdict,
        "possible_duplicate_sends_metric": dup_metric,
        "latency_ms": latency_summary(lat),
        "held_msg_per_s": round(len(answered_at) / max(last_answer - t0, 1e-9), 1),
        "drain_s": round(max(0.0, last_answer - end_offer), 1),
        "replies_sent": replies.count - base_calls, "seconds_to_ready": round(ready_s, 1),
        "kill": events or None, **run.tail(a, cpu, len(answered_at), feeder),
    }


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.storm",
                                 description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--rate", type=float, default=300, help="messages offered per second (default 300)")
    ap.add_argument("--seconds", type=float, default=60, help="how long the storm lasts (default 60)")
    ap.add_argument("--fans", type=int, default=1000, help="distinct fans (private chats), default 1000")
    ap.add_argument("--workers", type=int, default=2, help="`fancare worker` processes behind one receiver "
                    "(default 2); 0: one `fancare run`")
    ap.add_argument("--mode", choices=("webhook", "polling"), default="webhook")
    ap.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    ap.add_argument("--kill-at", type=float, help="SIGKILL one worker this many seconds into the storm")
    ap.add_argument("--restart-after", type=float,
                    help="restart the killed process this many seconds later (default: not restarted; "
                         "with --workers 0 always, after 3 s)")
    ap.add_argument("--default-limits", action="store_true", help="keep Telegram's rate limits (shipped config)")
    ap.add_argument("--seed", type=int, default=11)
    add_run_arguments(ap, max_drain_s=600.0, drain_help="wait at most this long after the storm")
    return ap


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    a = parser().parse_args(argv)
    return run_and_print(a, run_storm(a))


if __name__ == "__main__":
    main()
