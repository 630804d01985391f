"""Adversarial moderation set: recall per category, and each rule's false positives on Bitext (issue 12).

`benchmarks/data/adversarial.csv` (columns `text,category,context,expected`) holds hand-written
attacks: scam and phishing links, spam, evasions (homoglyphs, spacing, zero-width characters,
leetspeak), insults at other fans, hate, edits into spam, scam comments under a channel post and
typed `/intent{...}` injection. Each row goes through the real pipeline (`App` from ./config.yml with
./models and a fresh SQLite store, a `RecordingChannel`) in its context:

- **group**: a supergroup message from a new fan (`chat_type: supergroup`);
- **comment**: a fan's comment under a channel post (`channel_post` in the meta);
- **group_edit**: a clean group message ("What a match last night!") then
  `Pipeline.moderate_edit` with the row's text (the way the Telegram channel handles an edit);
- **private**: a private chat with the brand; typed text;
- **private_button**: the same payload with `meta["button"]` (a forged button the bot never sent).

Caught: the verdict is not `allow` (moderation row stored or HandleResult debug "moderation"); for
`intent_injection`: the text was not taken as a forced intent (confidence 1.0 on the payload's
intent, no encoder: a payload parse), no escalation was opened and no poll vote or giveaway entry was recorded.

The false-positive rate of each rule is measured over the Bitext customer-support test split (every
message a legitimate request) sent in a group (`chat_type: supergroup`, bot addressed), one fan each.

    .venv/bin/python -m benchmarks.adversarial [--limit 300] [--bitext PATH] [--set PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging
import os
import re
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, table, write_result

SET = REPO / "benchmarks" / "data" / "adversarial.csv"
BITEXT = REPO.parent / "shared" / "data" / "bitext_customer_support" / "test.csv"
CLEAN_ORIGINAL = "What a match last night!"
_PAYLOAD = re.compile(r"^\s*/([A-Za-z_]+)")


def load_set(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if (r.get("text") or "").strip()]


def load_bitext(path: Path, limit: int | None) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if (r.get("text") or "").strip()]
    return rows[:limit] if limit else rows


class Bench:
    def __init__(self, workdir: Path, name: str) -> None:
        from bot.app import App
        from bot.config import load_config
        from moderation.actions import LogActions
        from tests.fakes.recording_channel import RecordingChannel

        cfg = load_config(REPO / "config.yml")
        cfg.store.url = f"sqlite:///{workdir / f'{name}.db'}"
        self.app = App(cfg)
        self.channel, self.port = RecordingChannel(name="bench"), LogActions()
        self.app.pipeline.add_channel(self.channel)
        self.app.moderator.actions["bench"] = self.port
        self.n = 0

    def counts(self) -> dict[str, int]:
        from sqlalchemy import func, select

        from bot.store.engagement_models import GiveawayEntry, PollVote
        from bot.store.models import Escalation

        with self.app.store.session() as s:
            return {m.__name__: int(s.scalar(select(func.count()).select_from(m)) or 0)
                    for m in (Escalation, PollVote, GiveawayEntry)}

    def stored_verdict(self, message_id: int) -> tuple[str | None, str | None]:
        from sqlalchemy import select

        from bot.store.moderation_models import ModerationItem

        with self.app.store.session() as s:
            item = s.scalars(select(ModerationItem).where(ModerationItem.message_id == message_id)
                             .order_by(ModerationItem.id.desc())).first()
            return (item.action, item.rule) if item is not None else (None, None)

    async def send(self, text: str, context: str, user: str | None = None) -> dict[str, Any]:
        from bot.channels.base import Incoming

        self.n += 1
        i = self.n
        user = user or f"fan-{i}"
        meta: dict[str, Any] = {"message_id": i}
        chat = "group-1"
        if context in ("group", "group_edit", "bitext_group"):
            meta["chat_type"] = "supergroup"
            if context == "bitext_group":
                meta["addressed"] = True
        elif context == "comment":
            chat = "discussion-1"
            meta.update(chat_type="supergroup", channel_post={"chat_id": "-100777", "message_id": 40 + i % 5,
                                                                   "discussion_message_id": 900 + i % 5})
        else:  # private, private_button
            chat = f"chat-{user}"
            meta["chat_type"] = "private"
            if context == "private_button":
                meta["button"] = True
        before = self.counts() if context.startswith("private") else None
        first = text if context != "group_edit" else CLEAN_ORIGINAL
        res = await self.app.pipeline.handle(Incoming(channel="bench", external_id=f"m-{i}", chat_id=chat,
                                                      user_id=user, text=first, display_name="Sam", meta=meta))
        dbg = res.debug or {}
        out: dict[str, Any] = {"action": dbg.get("moderation") or "allow", "rule": dbg.get("moderation_rule"),
                               "intent": dbg.get("intent"), "confidence": dbg.get("confidence"), "encoder": dbg.get("encoder"),
                               "reply_action": dbg.get("action")}
        if context == "group_edit":
            out["original_action"] = out["action"]
            verdict = await self.app.pipeline.moderate_edit(
                res.message_id, text, {**meta, "edited": True}, {"channel": "bench", "chat_id": chat, "user_id": user})
            out["action"], out["rule"] = verdict.action, verdict.rule
            stored = self.stored_verdict(res.message_id)
            out["stored"] = stored[0]
        if before is not None:
            after = self.counts()
            out["delta"] = {k: after[k] - before[k] for k in after if after[k] != before[k]}
        return out

    def close(self) -> None:
        self.app.close()


def caught(row: dict[str, str], out: dict[str, Any]) -> bool:
    if row["category"] == "intent_injection":
        m = _PAYLOAD.match(row["text"])
        target = m.group(1).lower() if m else ""
        # a payload parse (nlu/model.py parse_payload) has no encoder and confidence exactly 1.0
        forced = ((out.get("intent") or "").lower() == target and out.get("confidence") == 1.0
                  and out.get("encoder") is None)
        return not forced and not out.get("delta")
    return out["action"] != "allow"


async def run_set(rows: list[dict[str, str]], workdir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    bench = Bench(workdir, "adversarial")
    details = []
    try:
        for row in rows:
            out = await bench.send(row["text"], row["context"])
            details.append({**row, **out, "caught": caught(row, out)})
    finally:
        bench.close()
    per: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in details:
        per[d["category"]].append(d)
    summary = []
    for cat, ds in per.items():
        got = sum(d["caught"] for d in ds)
        acts = Counter(d["action"] for d in ds)
        summary.append({"category": cat, "contexts": ",".join(sorted({d["context"] for d in ds})), "n": len(ds),
                        "caught": got, "recall": round(got / len(ds), 3),
                        "actions": " ".join(f"{k}:{v}" for k, v in sorted(acts.items())),
                        "top_rules": " ".join(f"{k}:{v}" for k, v in
                                              Counter(d["rule"] for d in ds if d["rule"]).most_common(3))})
    n = len(details)
    got = sum(d["caught"] for d in details)
    summary.append({"category": "**all**", "contexts": "", "n": n, "caught": got,
                    "recall": round(got / n, 3) if n else 0.0, "actions": "", "top_rules": ""})
    return summary, details


async def run_bitext(rows: list[dict[str, str]], workdir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from moderation.rules import STANDARD_RULES

    bench = Bench(workdir, "bitext")
    fired: Counter[str] = Counter()
    by_action: dict[str, str] = {r.name: r.action for r in STANDARD_RULES}
    examples: list[dict[str, Any]] = []
    try:
        for row in rows:
            out = await bench.send(row["text"], "bitext_group")
            if out["action"] != "allow":
                rule = out["rule"] or "?"
                fired[rule] += 1
                if len(examples) < 40:
                    examples.append({"text": row["text"], "rule": rule, "action": out["action"]})
    finally:
        bench.close()
    n = len(rows)
    names = [r.name for r in STANDARD_RULES] + sorted(set(fired) - set(by_action))
    table_rows = [{"rule": name, "rule_action": by_action.get(name, ""), "fired": fired[name],
                   "fp_rate": round(fired[name] / n, 4) if n else 0.0} for name in names]
    total = sum(fired.values())
    table_rows.append({"rule": "**any**", "rule_action": "", "fired": total, "fp_rate": round(total / n, 4) if n else 0.0})
    return table_rows, examples


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", type=Path, default=SET, help="the adversarial CSV")
    ap.add_argument("--bitext", type=Path, default=BITEXT, help="Bitext test.csv (column text)")
    ap.add_argument("--limit", type=int, default=0, help="Bitext messages (0: the whole split)")
    ap.add_argument("--skip-bitext", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    logging.basicConfig(level=logging.ERROR)
    rows = load_set(args.set)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        summary, details = asyncio.run(run_set(rows, Path(tmp)))
        t_set = time.perf_counter() - t0
        fp, fp_examples, bitext = [], [], []
        if not args.skip_bitext:
            bitext = load_bitext(args.bitext, args.limit or None)
            fp, fp_examples = asyncio.run(run_bitext(bitext, Path(tmp)))
    t_all = time.perf_counter() - t0
    print(f"adversarial set: {args.set} ({len(rows)} messages, {t_set:.0f} s); load avg at start {load0:.2f}")
    print(table(summary, ["category", "contexts", "n", "caught", "recall", "actions", "top_rules"]))
    missed = [d for d in details if not d["caught"]]
    for d in missed:
        print(f"  missed [{d['category']}/{d['context']}] {d['text']!r} -> {d['action']} {d.get('intent')}"
              f" {d.get('confidence')} {d.get('delta') or ''}")
    if fp:
        print(f"\nBitext false positives in a group: {args.bitext} ({len(bitext)} messages)")
        print(table(fp, ["rule", "rule_action", "fired", "fp_rate"]))
        for ex in fp_examples[:15]:
            print(f"  fp: {ex}")
    body = {"set": str(args.set), "bitext": str(args.bitext), "bitext_messages": len(bitext), "limit": args.limit,
            "seconds": round(t_all, 1), "load_avg_at_start": load0, "recall": summary, "fp_per_rule": fp,
            "fp_examples": fp_examples, "details": details}
    path = write_result("adversarial", body)
    print(f"written: {path} ({t_all:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
