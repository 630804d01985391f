"""The dialog policy's own cost per message, on top of the NLU.

`python -m benchmarks.policy_latency [--rounds N] [--out DIR] [--model-dir DIR | --train]`

Every message is parsed first (`App(cfg).nlu.parse`, not timed); then `await policy.decide(parse,
state, turn)` alone is timed: flows, actions (the demo order table), the FAQ-or-task arbitration and
the knowledge-base search on the message's embedding (shared with the NLU, so no second encoder
pass). The messages: every row of `benchmarks/data/arbitration.csv` (a new message on an empty
conversation: FAQ questions, tasks, near-misses, six languages) and the turns of short multi-turn
conversations (`FLOWS`: the answer to "what's your order number?", a question in the middle of a
refund, a switch, a cancel, a complaint's details), each decided on the state the turns before it
left. Each message is decided `--rounds` times after a warm-up round; percentiles are over all of them.

Two messages in one ("where is VT-482913 and can I pay with klarna?") make the policy parse both parts
with the NLU (`DialogPolicy.parser`, `dialogs/repair.split_requests`). That is NLU work done from the
policy, so the main figures run with `parser=None` (no split: the message is decided as one request)
and the as-deployed figures, parser on, are reported apart, with the messages that split.
Writes `benchmarks/results/policy_latency.json` (gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from benchmarks.arbitration import DATA, build_app, load_rows, model_info  # noqa: E402
from benchmarks.common import RESULTS, percentiles, table, write_result  # noqa: E402
from dialogs.repair import split_requests  # noqa: E402

#: multi-turn conversations: each list is one conversation, turn by turn
FLOWS: list[list[str]] = [
    ["I want a refund", "VT-100200"],
    ["where is my order?", "it's VT-482913"],
    ["my parcel hasn't arrived", "VT-555123"],
    ["I want a refund", "how long do refunds take?", "VT-777001"],
    ["I want a refund", "never mind"],
    ["I want a refund", "hi", "sorry, it's VT-100200"],
    ["this is unacceptable", "My Arc speaker stopped charging after a week and support never answered my emails"],
    ["where is my order?", "actually I want a refund instead", "VT-246810"],
    ["where's my parcel", "no idea", "VT-123456"],
    ["I want to return my watch", "VT-999999", "VT-246810"],
    ["I want a refund", "by the way, do you ship to the UK?", "VT-482913"],
    ["quiero un reembolso", "VT-100200"],
    ["¿dónde está mi pedido?", "es el VT-482913"],
    ["wo ist meine Bestellung?", "VT-555123"],
    ["ich möchte mein Geld zurück", "vergiss es"],
    ["je veux être remboursé", "VT-777001"],
    ["où en est ma commande ?", "c'est VT-123456"],
    ["dov'è il mio ordine?", "VT-246810"],
    ["voglio un rimborso", "lascia perdere"],
    ["quero o reembolso", "VT-100200"],
    ["cadê meu pedido?", "VT-482913"],
]
#: two requests in one message: the policy parses both parts (reported apart)
TWO_REQUESTS = [
    "where is VT-482913 and can I pay with klarna?",
    "where is VT-555123 and I also want a refund",
    "¿dónde está VT-482913 y puedo pagar con klarna?",
    "wo ist VT-482913 und kann ich mit Klarna zahlen",
]


async def _prepare(app: Any) -> list[dict[str, Any]]:
    """Parse every message and replay the conversations once, untimed, to get each turn's state."""
    from dialogs.policy import Turn

    items: list[dict[str, Any]] = []
    conv = 50_000
    for r in load_rows(DATA):
        conv += 1
        p = await app.nlu.parse(r.text)
        items.append({"kind": f"new message ({r.expected.split(':')[0]})", "parse": p, "state": {},
                      "turn": Turn(conv, r.text, "Sam", p.language)})
    for script in FLOWS:
        conv += 1
        state: dict[str, Any] = {}
        for i, text in enumerate(script):
            p = await app.nlu.parse(text)
            turn = Turn(conv, text, "Sam", p.language)
            kind = "new message (flow start)" if i == 0 else "mid-flow turn"
            items.append({"kind": kind, "parse": p, "state": state, "turn": turn})
            state = (await app.policy.decide(p, state, turn)).state
    for text in TWO_REQUESTS:
        conv += 1
        p = await app.nlu.parse(text)
        items.append({"kind": "two requests", "parse": p, "state": {}, "turn": Turn(conv, text, "Sam", p.language)})
    return items


async def _time(app: Any, items: Sequence[dict[str, Any]], rounds: int) -> list[list[float]]:
    from dialogs import arbitration

    decide = app.policy.decide
    for it in items:  # warm-up: the first KB index use, the order table
        await decide(it["parse"], it["state"], it["turn"])
    out: list[list[float]] = [[] for _ in items]
    for _ in range(rounds):
        for i, it in enumerate(items):
            arbitration._cues.cache_clear()  # every message is new to the arbitration's cue cache
            t0 = time.perf_counter()
            await decide(it["parse"], it["state"], it["turn"])
            out[i].append(time.perf_counter() - t0)
    return out


def _kb_search(app: Any, items: Sequence[dict[str, Any]], rounds: int) -> list[float]:
    """The knowledge-base search alone (what `_kb_best` does), for the share of the policy's time."""
    out = []
    for _ in range(rounds):
        for it in items:
            p = it["parse"]
            if not p.text or p.encoder is None:
                continue
            t0 = time.perf_counter()
            app.kb.search(p.text, encoder=p.encoder, embedding=p.embedding, language=p.language)
            out.append(time.perf_counter() - t0)
    return out


def _row(name: str, timings: Sequence[float], messages: int) -> dict[str, Any]:
    pc = percentiles(timings)
    return {"messages": name, "n": messages, "p50 ms": round(pc["p50_ms"], 3), "p90 ms": round(pc["p90_ms"], 3),
            "p99 ms": round(pc["p99_ms"], 3), "max ms": round(pc["max_ms"], 2)}


def run_policy_latency(rounds: int = 5, out_dir: Path = RESULTS, model_dir: Path | None = None,
                       train: bool = False) -> dict[str, Any]:
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="fancare-policy-") as tmp:
        app = build_app(Path(tmp), model_dir, train)
        try:
            model = model_info(app)
            items = asyncio.run(_prepare(app))
            parser = app.policy.parser
            app.policy.parser = None  # the policy alone: no second NLU pass for two requests in one
            alone = asyncio.run(_time(app, items, rounds))
            app.policy.parser = parser  # as deployed
            deployed = asyncio.run(_time(app, items, rounds))
            kb = _kb_search(app, items, rounds)
            # what DialogPolicy._new_message does: a new message in two parts is parsed twice more
            split = [i for i, it in enumerate(items) if not it["state"].get("stack") and it["parse"].encoder
                     and len(split_requests(it["turn"].text)) == 2]
            two = [i for i in split if any(n == "nlu.two_requests" for n, _ in asyncio.run(
                app.policy.decide(items[i]["parse"], items[i]["state"], items[i]["turn"])).events)]
        finally:
            app.close()
    load_end = os.getloadavg()
    kinds = sorted({it["kind"] for it in items})
    flat = [t for ts in alone for t in ts]
    rows = [_row("all (policy alone, parser=None)", flat, len(items))]
    for k in kinds:
        idx = [i for i, it in enumerate(items) if it["kind"] == k]
        rows.append(_row(f"  {k}", [t for i in idx for t in alone[i]], len(idx)))
    rows.append(_row("knowledge-base search alone (per call)", kb, len(kb) // max(rounds, 1)))
    rows.append(_row("all, as deployed (parser on)", [t for ts in deployed for t in ts], len(items)))
    if split:
        rows.append(_row("  messages split in two (2 more NLU parses inside)",
                         [t for i in split for t in deployed[i]], len(split)))
    pc = percentiles(flat)
    body = {"messages": len(items), "rounds": rounds, "model": model, "load_avg_start": [round(x, 2) for x in load_start],
            "load_avg_end": [round(x, 2) for x in load_end], "cpus": os.cpu_count(),
            "goal": {"p50_ms": 3.0}, "policy_alone": {k: round(v, 3) for k, v in pc.items()},
            "median_of_message_medians_ms": round(statistics.median(statistics.median(ts) for ts in alone) * 1000, 3),
            "split_messages": [items[i]["turn"].text for i in split],
            "split_and_decided_as_two_requests": [items[i]["turn"].text for i in two], "rows": rows,
            "table": table(rows, ["messages", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"])}
    write_result("policy_latency", body, out_dir)
    return body


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rounds", type=int, default=5, help="timed decisions per message (after one warm-up)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--model-dir", type=Path, default=None, help="trained model (default ./models)")
    ap.add_argument("--train", action="store_true", help="train a model on training_data/ first (not ./models)")
    args = ap.parse_args(argv)
    body = run_policy_latency(args.rounds, args.out, args.model_dir, args.train)
    print(f"{body['messages']} messages x {body['rounds']} rounds; load average {body['load_avg_start']} -> "
          f"{body['load_avg_end']} on {body['cpus']} CPUs\n", file=sys.stderr)
    print(body["table"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
