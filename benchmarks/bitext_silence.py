"""Customers never silenced: the Bitext customer-support test split through the pipeline (issue 12).

Every message is a legitimate customer request. Each one is sent by a different fan through
`App(cfg).pipeline.handle`, with the repository's `config.yml` (standard moderation preset, the
trained model in ./models) and a fresh SQLite store, to a `RecordingChannel`:

- **private**: a private chat with the brand (`chat_type: private`);
- **group**: a supergroup, the bot addressed (`addressed: true`), every fan a new member.

Reported per context: messages without a reply, hidden (hide) and muted/banned verdicts, flags, and
how often each rule fired (its false-positive rate: every message is legitimate).
Goal (issue 12): private 0 without a reply and 0 hidden or muted; group under 0.5% hidden.

    .venv/bin/python -m benchmarks.bitext_silence [--limit 400] [--data PATH] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, table, write_result

DATA = REPO.parent / "shared" / "data" / "bitext_customer_support" / "test.csv"


def load(path: Path, limit: int | None) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if (r.get("text") or "").strip()]
    return rows[:limit] if limit else rows


async def run_context(rows: list[dict[str, str]], context: str, workdir: Path) -> dict[str, Any]:
    from bot.app import App
    from bot.channels.base import Incoming
    from bot.config import load_config
    from moderation.actions import LogActions
    from tests.fakes.recording_channel import RecordingChannel

    cfg = load_config(REPO / "config.yml")
    cfg.store.url = f"sqlite:///{workdir / f'{context}.db'}"
    app = App(cfg)
    channel, port = RecordingChannel(name="bench"), LogActions()
    app.pipeline.add_channel(channel)
    app.moderator.actions["bench"] = port
    counts: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    silent: list[dict[str, Any]] = []
    blocked: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    try:
        for i, row in enumerate(rows):
            user = f"{context}-fan-{i}"
            chat = f"chat-{user}" if context == "private" else "group-1"
            meta: dict[str, Any] = {"message_id": i + 1, "chat_type": "private" if context == "private"
                                    else "supergroup"}
            if context == "group":
                meta["addressed"] = True
            before = len(channel.sent)
            res = await app.pipeline.handle(Incoming(channel="bench", external_id=f"{context}-{i}", chat_id=chat,
                                                     user_id=user, text=row["text"], display_name="Sam",
                                                     meta=meta))
            got = len(channel.sent) - before
            action = (res.debug or {}).get("moderation") or "allow"
            counts[f"verdict:{action}"] += 1
            if action != "allow":  # which rule fired: each rule's false-positive rate on legitimate requests
                rules[f"{(res.debug or {}).get('moderation_rule')}:{action}"] += 1
            if got == 0:
                counts["no_reply"] += 1
                silent.append({"text": row["text"], "intent": row.get("intent", ""),
                               "action": (res.debug or {}).get("action"), "moderation": action,
                               "rule": (res.debug or {}).get("moderation_rule")})
            if action in ("hide", "mute", "ban"):
                blocked.append({"text": row["text"], "action": action,
                                "rule": (res.debug or {}).get("moderation_rule")})
    finally:
        app.close()
    n = len(rows)
    hidden = counts["verdict:hide"]
    muted = counts["verdict:mute"] + counts["verdict:ban"]
    return {"context": context, "messages": n, "no_reply": counts["no_reply"], "hidden": hidden,
            "muted_or_banned": muted, "flagged": counts["verdict:flag"],
            "hidden_pct": round(100 * hidden / n, 2) if n else 0.0,
            "no_reply_pct": round(100 * counts["no_reply"] / n, 2) if n else 0.0,
            "platform_calls": dict(Counter(c[0] for c in port.calls)),
            "rules_fired": {k: {"n": v, "rate": round(v / n, 4)} for k, v in sorted(rules.items())},
            "seconds": round(time.perf_counter() - t0, 1), "silent_examples": silent[:20],
            "blocked_examples": blocked[:20]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA, help="Bitext test.csv (columns text, intent, ...)")
    ap.add_argument("--limit", type=int, default=400, help="messages per context (0: all)")
    ap.add_argument("--contexts", default="private,group")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON result here")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    logging.basicConfig(level=logging.WARNING)
    rows = load(args.data, args.limit or None)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for ctx in args.contexts.split(","):
            results.append(asyncio.run(run_context(rows, ctx.strip(), Path(tmp))))
    cols = ["context", "messages", "no_reply", "hidden", "muted_or_banned", "flagged", "hidden_pct", "seconds"]
    print(f"data: {args.data} ({len(rows)} messages per context)")
    print(table(results, cols))
    for r in results:
        for ex in r["silent_examples"][:5]:
            print(f"  [{r['context']}] no reply: {ex}")
        for ex in r["blocked_examples"][:5]:
            print(f"  [{r['context']}] blocked: {ex}")
        print(f"  [{r['context']}] rules fired (rule:action, share of messages): {r['rules_fired']}")
    body = {"data": str(args.data), "limit": args.limit, "results": results}
    path = write_result("bitext_silence", body)
    if args.out:
        args.out.write_text(path.read_text())
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
