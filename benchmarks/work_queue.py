"""What one work-queue claim (bot/store/work.py) costs with a long history and a backlog.

    scripts/with-postgres.sh .venv/bin/python -m benchmarks.work_queue [--history 200000] [--backlog 5000]

Fills the store with `--history` handled inbound messages (long conversations: the claim's "no older
unfinished message" check walks a conversation's messages) and `--backlog` waiting ones over
`--conversations` conversations, then times `claim_work(limit=32)` until the backlog is taken, and
the claim on an empty queue (what an idle worker pays every 50 ms). Uses FANCARE_TEST_POSTGRES_URL
(a throwaway database: every table is dropped), else a SQLite file in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import insert, update

from bot.store import Contact, Conversation, Message, Store
from bot.store.models import utcnow
from bot.store.work import claim_work


def fill(store: Store, conversations: int, history: int, backlog: int) -> None:
    now = utcnow()
    with store.session() as s:
        s.execute(insert(Contact), [{"channel": "telegram", "external_id": str(i), "created_at": now}
                                    for i in range(conversations)])
        s.execute(insert(Conversation), [{"channel": "telegram", "chat_id": str(i), "contact_id": i + 1, "state": {},
                                          "created_at": now, "updated_at": now} for i in range(conversations)])
    rows = [{"conversation_id": i % conversations + 1, "direction": "in", "channel": "telegram",
             "external_id": f"h{i}", "sender": "fan", "text": "old", "payload": {}, "status": "handled",
             "attempts": 1, "created_at": now} for i in range(history)]
    rows += [{"conversation_id": i % conversations + 1, "direction": "in", "channel": "telegram",
              "external_id": f"b{i}", "sender": "fan", "text": "new", "payload": {}, "status": "received",
              "attempts": 0, "created_at": now} for i in range(backlog)]
    for start in range(0, len(rows), 20_000):
        with store.session() as s:
            s.execute(insert(Message), rows[start:start + 20_000])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--history", type=int, default=200_000)
    ap.add_argument("--backlog", type=int, default=5_000)
    ap.add_argument("--conversations", type=int, default=1_000)
    args = ap.parse_args()
    url = os.environ.get("FANCARE_TEST_POSTGRES_URL") or f"sqlite:///{Path(tempfile.mkdtemp()) / 'wq.db'}"
    store = Store(url)
    store.drop_all()
    store.migrate()
    t0 = time.perf_counter()
    fill(store, args.conversations, args.history, args.backlog)
    print(f"{store.engine.dialect.name}: filled {args.history} handled + {args.backlog} waiting messages over "
          f"{args.conversations} conversations in {time.perf_counter() - t0:.1f} s")
    if store.clock.on_server:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    taken, times = 0, []
    while True:
        t = time.perf_counter()
        items = claim_work(store, "bench", channels=["telegram"], limit=32)
        times.append(time.perf_counter() - t)
        if not items:
            break
        taken += len(items)
        with store.session() as s:  # as processing would: handled, lease released
            s.execute(update(Message).where(Message.id.in_([i.message_id for i in items])).values(status="handled"))
            s.execute(update(Conversation).where(Conversation.id.in_([i.conversation_id for i in items]))
                      .values(lock_owner=None, lock_until=None))
    ms = np.array(times[:-1]) * 1000
    idle = []
    for _ in range(50):
        t = time.perf_counter()
        claim_work(store, "bench", channels=["telegram"], limit=32)
        idle.append((time.perf_counter() - t) * 1000)
    print(f"claims of up to 32: {len(ms)} claims took {taken} messages; per claim p50 {np.percentile(ms, 50):.1f} ms, "
          f"p99 {np.percentile(ms, 99):.1f} ms; empty queue p50 {np.percentile(idle, 50):.1f} ms")
    store.drop_all()
    store.dispose()


if __name__ == "__main__":
    main()
