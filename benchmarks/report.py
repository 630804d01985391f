"""The analytics report on a year of data: 1,000,000 messages and 20,000 escalations.

    .venv/bin/python -m benchmarks.report                       # SQLite
    scripts/with-postgres.sh .venv/bin/python -m benchmarks.report   # SQLite and PostgreSQL

Data is generated with bulk inserts straight through the DB-API (sqlite3 `executemany`, PostgreSQL
`COPY`), with a daily and weekly rhythm, ~500 unclear phrasings for the unanswered-questions
grouping, FAQ answers, moderation actions, CSAT. The report itself runs in a fresh subprocess
(`--measure`) so its peak memory (max RSS) is the report's alone; the goal is < 30 s and < 1 GB.
Writes `benchmarks/results/report.json` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import table, write_result

N_MESSAGES = 1_000_000
N_ESCALATIONS = 20_000
N_FANS = 40_000
INTENTS = [("greet", 18), ("faq", 25), ("order_status", 16), ("thanks", 10), ("refund_request", 5),
           ("complaint", 4), ("human_handoff", 3), ("poll_vote", 3), ("giveaway_enter", 4), ("praise", 4),
           ("goodbye", 4), ("out_of_scope", 4)]
QUEUES = [("general", "normal"), ("complaints", "normal"), ("refunds", "normal"), ("crisis", "urgent")]
ARTICLES = ["shipping-times", "returns", "warranty", "battery-care", "pairing", "firmware", "sizes", "payment"]
UNCLEAR_STEMS = ["can i use the {p} underwater", "does the {p} work with my old phone", "why is my {p} blinking red",
                 "is there a student discount for the {p}", "my {p} app keeps logging me out",
                 "can i pay the {p} in installments", "will the {p} come in pink", "is the {p} vegan leather"]
PRODUCTS = ["Arc", "Pulse 3", "Buds Pro", "Buds Lite", "Nova X", "Beam", "Dock", "Halo", "Pulse 2", "Arc Mini",
            "Beam Max", "Halo S", "Nova", "Dock Duo", "Buds Max", "Pulse Kids", "Arc Pro", "Beam Go", "Halo Pro",
            "Nova Y", "Dock Mini", "Buds Air", "Pulse Max", "Arc Lite", "Beam Pro", "Halo Mini", "Nova Pro",
            "Dock Pro", "Buds Go", "Pulse S", "Arc S", "Beam S", "Halo Go", "Nova S", "Dock S", "Buds S",
            "Pulse Go", "Arc Go", "Beam Mini", "Halo Max", "Nova Mini", "Dock Max", "Buds Mini", "Pulse Mini",
            "Arc Max", "Beam Duo", "Halo Duo", "Nova Duo", "Dock Go", "Buds Duo", "Pulse Duo", "Arc Duo",
            "Beam Kids", "Halo Kids", "Nova Kids", "Dock Kids", "Buds Kids", "Arc Kids", "Nova Max", "Halo Air",
            "Beam Air", "Dock Air", "Pulse Air"]
UNCLEAR = [s.format(p=p) + tail for s in UNCLEAR_STEMS for p in PRODUCTS for tail in ("", "?")]


def _when(rng: random.Random, end: datetime) -> datetime:
    """A time in the last year, busier in the evening and at weekends."""
    while True:
        t = end - timedelta(seconds=rng.random() * 365 * 86400)
        weight = (0.4 + (0.6 if 17 <= t.hour <= 22 else 0.0)) * (1.3 if t.weekday() >= 5 else 1.0)
        if rng.random() < weight / 1.3:
            return t


def generate(seed: int = 7) -> dict[str, list[tuple[Any, ...]]]:
    rng = random.Random(seed)
    end = datetime.utcnow().replace(microsecond=0)  # noqa: DTZ003 - the store keeps naive UTC
    names, weights = zip(*INTENTS, strict=True)
    chats = [f"group-{i}" for i in range(20)]
    contacts = [(i + 1, "telegram" if i % 3 else "slack", f"fan-{i}", None, "en", end - timedelta(days=400), None)
                for i in range(N_FANS)]
    convs = [(i + 1, contacts[i][1], chats[i % 20] if i % 4 == 0 else f"dm-{i}", i + 1, "{}", None, None, None,
              end - timedelta(days=400), end) for i in range(N_FANS)]
    messages, nlu, audit, escs, mods = [], [], [], [], []
    mid = 0
    n_in = N_MESSAGES // 2
    for k in range(n_in):
        conv = rng.randrange(N_FANS) + 1
        at = _when(rng, end)
        unclear = rng.random() < 0.04
        intent = "out_of_scope" if unclear else rng.choices(names, weights)[0]
        text = rng.choice(UNCLEAR) if unclear else f"{intent} message {rng.randrange(500)}"
        mid += 1
        channel = contacts[conv - 1][1]
        messages.append((mid, conv, "in", channel, f"in-{k}", "fan", text, "{}", "handled", 1, None, None, None,
                         at, at))
        conf = rng.uniform(0.2, 0.4) if unclear else rng.uniform(0.6, 0.99)
        sent = rng.choices(["negative", "neutral", "positive"], [2, 6, 2])[0]
        nlu.append((mid, mid, intent, conf, unclear, json.dumps([[intent, conf]]), "[]", "en", "e5", "v1",
                    json.dumps({"sentiment": sent, "moderation": "allow"}), at))
        if intent == "faq" and not unclear:
            if rng.random() < 0.85:
                audit.append((len(audit) + 1, at, "faq.answered", "fancare", conv,
                              json.dumps({"message_id": mid, "article": rng.choice(ARTICLES), "score": 0.8})))
            else:
                audit.append((len(audit) + 1, at, "faq.unanswered", "fancare", conv, json.dumps({"message_id": mid})))
        if rng.random() < 0.01:
            mods.append((len(mods) + 1, mid, conv, channel, "c", "u", rng.choice(["flag", "hide", "mute"]),
                         rng.choice(["spam", "offensive", "pii"]), None, 0.9, False,
                         rng.choice(["pending", "acted", "restored"]), "{}", None, None, at))
        mid += 1
        messages.append((mid, conv, "out", channel, None, "bot", "reply", "{}", "sent", 1, None, None, None, at, at))
    for e in range(N_ESCALATIONS):
        conv = rng.randrange(N_FANS) + 1
        at = _when(rng, end)
        queue, prio = rng.choices(QUEUES, [6, 3, 3, 1])[0]
        first = at + timedelta(minutes=rng.expovariate(1 / (10 if prio == "urgent" else 90)))
        resolved = first + timedelta(minutes=rng.expovariate(1 / 240))
        state = rng.choices(["resolved", "handed_back", "open"], [85, 10, 5])[0]
        escs.append((e + 1, conv, queue, prio, json.dumps({"intent": queue}), "[]", state,
                     "op" if state != "open" else None, at, first if state != "open" else None,
                     first if state != "open" else None, resolved if state != "open" else None,
                     rng.choice([None, None, 3, 4, 5, 5, 2, 1]) if state == "resolved" else None))
    return {"contacts": contacts, "conversations": convs, "messages": messages, "nlu_results": nlu,
            "audit_events": audit, "escalations": escs, "moderation_items": mods}


COLUMNS = {
    "contacts": "id, channel, external_id, display_name, language, created_at, erased_at",
    "conversations": "id, channel, chat_id, contact_id, state, active_escalation_id, lock_owner, lock_until, "
                     "created_at, updated_at",
    "messages": "id, conversation_id, direction, channel, external_id, sender, text, payload, status, attempts, "
                "next_attempt_at, lease_until, error, created_at, handled_at",
    "nlu_results": "id, message_id, intent, confidence, fallback, ranking, entities, language, encoder, "
                   "model_version, signals, created_at",
    "audit_events": "id, at, kind, actor, conversation_id, data",
    "escalations": "id, conversation_id, queue, priority, reason, transcript, state, claimed_by, created_at, "
                   "claimed_at, first_response_at, resolved_at, csat",
    "moderation_items": "id, message_id, conversation_id, channel, chat_id, user_id, action, rule, signal, score, "
                        "dry_run, status, details, decided_by, decided_at, created_at",
}


def _batches(rows: list[tuple[Any, ...]], n: int = 50_000) -> Iterator[list[tuple[Any, ...]]]:
    for i in range(0, len(rows), n):
        yield rows[i:i + n]


def load(url: str, data: dict[str, list[tuple[Any, ...]]]) -> float:
    from bot.store import Store

    store = Store(url)
    store.drop_all()
    store.migrate()
    t0 = time.perf_counter()
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        for table_name, rows in data.items():
            cols = COLUMNS[table_name]
            if url.startswith("sqlite"):
                marks = ", ".join("?" for _ in cols.split(","))
                for b in _batches(rows):  # timestamps as SQLAlchemy writes them, so comparisons agree
                    cur.executemany(f"INSERT INTO {table_name} ({cols}) VALUES ({marks})",
                                    [tuple(v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v
                                           for v in r) for r in b])
            else:
                with cur.copy(f"COPY {table_name} ({cols}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for r in rows:
                        copy.write_row(r)
        if not url.startswith("sqlite"):
            for table_name in data:
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table_name}', 'id'), "
                            f"(SELECT max(id) FROM {table_name}))")
            cur.execute("ANALYZE")
        else:
            cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
        store.dispose()
    return time.perf_counter() - t0


def measure(url: str, out_dir: str) -> dict[str, Any]:
    """Runs in a fresh process: build the report over the whole year, render HTML + JSON."""
    from bot.analytics import build_report, default_window, write_report
    from bot.store import Store
    from nlu.similar import default_embedder

    embed = default_embedder()
    embed(["warm up"]) if embed else None
    store = Store(url)
    t0 = time.perf_counter()
    report = build_report(store, default_window(None, None, days=366), embed=embed, brand="Voltora")
    t_build = time.perf_counter() - t0
    html, _ = write_report(report, Path(out_dir) / "report.html")
    total = time.perf_counter() - t0
    store.dispose()
    return {"build_s": round(t_build, 2), "total_s": round(total, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "html_kb": round(html.stat().st_size / 1024, 1), "messages_in": report["summary"]["messages_in"],
            "escalations": report["summary"]["escalations"], "unanswered_groups": len(report["unanswered"])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--measure", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.out)))
        return 0
    targets = []
    tmp = Path(tempfile.mkdtemp(prefix="fancare-report-bench-"))
    targets.append(("sqlite", f"sqlite:///{tmp / 'bench.db'}"))
    if os.environ.get("FANCARE_TEST_POSTGRES_URL"):
        targets.append(("postgresql", os.environ["FANCARE_TEST_POSTGRES_URL"]))
    t0 = time.perf_counter()
    data = generate()
    gen_s = time.perf_counter() - t0
    rows: list[dict[str, Any]] = []
    for name, url in targets:
        load_s = load(url, data)
        out = tmp / name
        res = subprocess.run([sys.executable, "-m", "benchmarks.report", "--measure", url, "--out", str(out)],
                             check=True, capture_output=True, text=True)
        m = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append({"database": name, "messages": N_MESSAGES, "escalations": N_ESCALATIONS,
                     "bulk_load_s": round(load_s, 1), **m, "report_html": str(out / "report.html"),
                     "goal_met": m["total_s"] < 30 and m["peak_rss_mb"] < 1024})
        print(f"{name}: {m}", file=sys.stderr)
    path = write_result("report", {"generate_s": round(gen_s, 1), "results": rows})
    print(table(rows, ["database", "messages", "escalations", "bulk_load_s", "build_s", "total_s", "peak_rss_mb",
                       "goal_met"]))
    print(f"-> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
