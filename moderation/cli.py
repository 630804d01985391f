"""`fancare moderation review|report` and the moderation parts of `fancare train` / `fancare nlu parse`.

    fancare moderation review                 # pending flags, oldest first
    fancare moderation review --all           # also enforced and dry-run actions
    fancare moderation review restore 12      # a false positive: strike withdrawn, labelled "no"
    fancare moderation review confirm 12      # right call, labelled "yes"
    fancare moderation review ban 12          # right call, and the fan is banned (through the platform)
    fancare moderation report                 # per rule: actions, restored, false-positive rate
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from bot.config import FancareConfig


def add_parser(sub: Any) -> None:
    from bot.cli import _add_config

    p = sub.add_parser("moderation", help="moderation review queue and per-rule report")
    _add_config(p)
    msub = p.add_subparsers(dest="moderation_command", required=True)
    q = msub.add_parser("review", help="list flagged items, or restore / confirm / ban one")
    _add_config(q)
    q.add_argument("decision", nargs="?", choices=["list", "restore", "confirm", "ban"], default="list")
    q.add_argument("id", nargs="?", type=int)
    q.add_argument("--all", action="store_true", help="list enforced and dry-run items too")
    q.add_argument("--as", dest="moderator", default="cli-moderator")
    q = msub.add_parser("report", help="actions and false-positive rate per rule")
    _add_config(q)
    q.add_argument("--json", action="store_true")
    c = sub.add_parser("crisis", help="the crisis playbook: on [statement] | off | status (also /fancare crisis)")
    _add_config(c)
    c.add_argument("switch", nargs="?", choices=["on", "off", "status"], default="status")
    c.add_argument("statement", nargs="*", help="holding statement (default: moderation.crisis.playbook)")
    c.add_argument("--as", dest="operator", default="cli-operator")


def run_moderation(cfg: FancareConfig, args: argparse.Namespace) -> int:
    from bot.store import Store
    from moderation import review

    store = Store(cfg.store_url())
    store.migrate()
    try:
        if args.moderation_command == "report":
            rows = review.report(store)
            if args.json:
                print(json.dumps(rows, indent=2))
                return 0
            print(f"{'rule':24} {'actions':>7} {'dry-run':>7} {'pending':>7} {'reviewed':>8} {'restored':>8} {'FP rate':>7}")
            for r in rows:
                fp = "-" if r["false_positive_rate"] is None else f"{r['false_positive_rate']:.0%}"
                print(f"{r['rule']:24} {r['actions']:>7} {r['dry_run']:>7} {r['pending']:>7} {r['reviewed']:>8} "
                      f"{r['restored']:>8} {fp:>7}")
            return 0
        if args.decision == "list":
            statuses = ("pending", "acted") if args.all else ("pending",)
            items = review.list_items(store, statuses)
            if not items:
                print("nothing to review")
            for i in items:
                score = "" if i.score is None else f"{i.score:.2f}"
                dry = " (dry-run)" if i.dry_run else ""
                print(f"#{i.id} [{i.status}] {i.action}{dry} by rule {i.rule} ({i.signal} {score}) "
                      f"{i.channel}/{i.chat_id} user {i.user_id}: {i.text[:160]!r}")
            return 0
        if args.id is None:
            print("error: give the item id", file=sys.stderr)
            return 2
        outcome = _run(_carry_out(cfg, store, args.id, args.decision, args.moderator))
        if outcome.item is None:
            print(f"error: {outcome.message}", file=sys.stderr)
            return 1
        if not outcome.decided:
            print(outcome.message)
            return 1
        print(f"{outcome.message}; it is a training example from the next `fancare train`")
        return 0
    finally:
        store.dispose()


def _run(coro: Any) -> Any:
    """asyncio.run, also when called from a running loop (the CLI's `main` inside tests or the shell)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def run_crisis(cfg: FancareConfig, args: argparse.Namespace) -> int:
    """`fancare crisis on|off|status`: the same switch as `/fancare crisis` in Slack."""
    from bot.store import Store
    from moderation.playbook import CrisisPlaybook
    from moderation.setup import close_ports, platform_ports

    store = Store(cfg.store_url())
    store.migrate()
    playbook = CrisisPlaybook.from_config(store, cfg)

    async def switch() -> str:
        ports = platform_ports(cfg)
        try:
            if args.switch == "on":
                return await playbook.switch_on(args.operator, " ".join(args.statement) or None, ports)
            return await playbook.switch_off(args.operator, ports)
        finally:
            await close_ports(ports)

    try:
        print(playbook.status_text() if args.switch == "status" else _run(switch()))
        return 0
    finally:
        store.dispose()


async def _carry_out(cfg: FancareConfig, store: Any, item_id: int, decision: str, moderator: str) -> Any:
    from moderation import review
    from moderation.setup import close_ports, platform_ports

    ports = platform_ports(cfg)
    try:
        return await review.carry_out(store, item_id, decision, moderator, ports)
    finally:
        await close_ports(ports)


def train_moderation(cfg: FancareConfig, model: Any) -> None:
    """After the NLU model: heads on each of its encoders, from CC0 files + moderators' labels."""
    from bot.app import model_root
    from bot.store import Store
    from moderation import review
    from moderation.train import train_and_save

    labelled: list[tuple[str, str, str]] = []
    try:
        store = Store(cfg.store_url())
        store.migrate()
        labelled = review.labelled_examples(store)
        store.dispose()
    except Exception as exc:  # noqa: BLE001 - no database yet: train on the files alone
        print(f"moderation: no moderator labels ({type(exc).__name__})", file=sys.stderr)
    data_dir = cfg.resolve(cfg.moderation.training_data)
    if not data_dir.is_dir():
        # not an error (a brand may rely on the lexicons), but never silent: heads from 0 examples
        # score every message the same, which looks like a working model
        print(f"moderation: {data_dir} (config moderation.training_data) is not a directory: the heads are "
              "trained on moderators' labels only; the lexicons score sentiment and toxicity", file=sys.stderr)
    path, heads = train_and_save(data_dir, model_root(cfg),
                                 list(model.heads), model.encoder_paths, labelled,
                                 finetune=cfg.moderation.finetune, finetune_epochs=cfg.moderation.finetune_epochs)
    ex = heads.meta["examples"]
    print(f"trained moderation heads ({', '.join(f'{k} {v}' for k, v in ex.items())} examples, "
          f"{heads.meta['moderator_labels']} from moderators) in {heads.meta['train_seconds']} s -> {path}")


def parse_with_signals(cfg: FancareConfig, model: Any, text: str) -> dict[str, Any]:
    """`fancare nlu parse`: the NLU result plus every moderation signal and the verdict."""
    from bot.app import model_root
    from moderation.rules import Subject
    from moderation.setup import build_moderator
    parse = model.parse(text)
    out: dict[str, Any] = parse.as_dict()
    mod = build_moderator(cfg, model_root(cfg))
    sig = mod.signals(text, embedding=parse.embedding, encoder=parse.encoder, sender="", chat="", language=parse.language)
    verdict = mod.policy.decide(text, sig, Subject())
    out["signals"] = sig.as_dict()
    out["moderation"] = {"action": verdict.action, "rule": verdict.rule, **verdict.details}
    return out
