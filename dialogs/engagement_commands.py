"""`poll ...` and `giveaway ...`: one grammar for the CLI (`fancare poll create ...`) and Slack
(`/fancare poll create ...`), so both accept the same arguments and print the same answers.

Times: `--opens` / `--closes` take an ISO time in UTC (2026-12-01T18:00) or a delay from now
(`30m`, `2h`, `3d`). `--file` reads the same fields from YAML (keys as the long options, with `_`).
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.store.models import utcnow
from dialogs import draw as drawing
from dialogs.engagement import Engagement
from dialogs.engagement_log import verify_chain
from dialogs.giveaways import MemberCheck

_DELAY = re.compile(r"^(\d+)\s*([mhd])$")


class CommandError(Exception):
    """Bad arguments: the message is shown to the operator (exit code 2 on the CLI)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # never sys.exit from inside the Slack console
        raise CommandError(f"{self.prog}: {message}")


def when(value: str | None, now: datetime | None = None) -> datetime | None:
    if value is None:
        return None
    now = now or utcnow()
    m = _DELAY.match(value.strip())
    if m:
        n, unit = int(m.group(1)), m.group(2)
        return now + {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n)}[unit]
    try:
        t = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise CommandError(f"not a time: {value!r} (use 2026-12-01T18:00 in UTC, or 30m / 2h / 3d)") from exc
    return t.replace(tzinfo=None) if t.tzinfo is None else (t - t.utcoffset()).replace(tzinfo=None)  # type: ignore[operator]


def add_parsers(sub: Any, add_config: Any = None) -> None:
    """Add `poll` and `giveaway` to an argparse subparsers object."""
    p = sub.add_parser("poll", help="polls: create, list, results, close")
    ps = p.add_subparsers(dest="poll_command", required=True)
    q = ps.add_parser("create", help="create a poll (arguments or --file poll.yml)")
    q.add_argument("--question")
    q.add_argument("--option", action="append", default=[], help="an option (repeat, 2 to 10)")
    q.add_argument("--multiple", action="store_true", help="fans may choose several options")
    q.add_argument("--anonymous", action="store_true", help="never show who voted (posted as buttons)")
    q.add_argument("--locked", action="store_true", help="a vote cannot be changed")
    q.add_argument("--chat", action="append", default=[], help="target chat id (repeat)")
    q.add_argument("--channel", default="telegram")
    q.add_argument("--buttons", action="store_true", help="inline buttons instead of a native poll")
    q.add_argument("--opens", default=None)
    q.add_argument("--closes", default=None)
    q.add_argument("--file", default=None, help="YAML with the same fields")
    for name in ("results", "close", "show"):
        q = ps.add_parser(name)
        q.add_argument("id", type=int)
        if name == "results":
            q.add_argument("--voters", action="store_true", help="list who voted what (not for anonymous polls)")
    ps.add_parser("list")

    p = sub.add_parser("giveaway", help="giveaways: create, close and draw, verify, export")
    gs = p.add_subparsers(dest="giveaway_command", required=True)
    q = gs.add_parser("create", help="create a giveaway (arguments or --file giveaway.yml)")
    q.add_argument("--prize")
    q.add_argument("--winners", type=int, default=1)
    q.add_argument("--keyword", default=None, help="entering by sending this word (e.g. #win)")
    q.add_argument("--question", default=None, help="entrants must answer this")
    q.add_argument("--answer", default=None, help="the expected answer (checked at the draw)")
    q.add_argument("--member-of", default=None, help="chat id entrants must be members of at draw time")
    q.add_argument("--announce", action="append", default=[], help="chat id for announcements (repeat)")
    q.add_argument("--post", default=None, help="--post=CHANNEL_ID:POST_ID: a comment under this channel post enters")
    q.add_argument("--channel", default="telegram")
    q.add_argument("--opens", default=None)
    q.add_argument("--closes", default=None)
    q.add_argument("--file", default=None)
    for name in ("show", "close", "publish"):
        gs.add_parser(name).add_argument("id", type=int)
    q = gs.add_parser("export", help="entrants as CSV")
    q.add_argument("id", type=int)
    q.add_argument("--names", action="store_true", help="include display names (personal data)")
    q = gs.add_parser("redraw", help="disqualify a winner and draw a replacement by the same rule")
    q.add_argument("id", type=int)
    q.add_argument("entrant", help="e.g. telegram:12345")
    q.add_argument("--reason", required=True)
    q = gs.add_parser("verify", help="recompute a draw: a giveaway id, or a file from `giveaway publish`")
    q.add_argument("target")
    gs.add_parser("list")
    gs.add_parser("audit", help="check the hash chain of the poll and giveaway log")
    if add_config is not None:
        for parser in (*ps.choices.values(), *gs.choices.values()):
            add_config(parser)


def slack_parser() -> argparse.ArgumentParser:
    root = _Parser(prog="/fancare", add_help=False)
    add_parsers(root.add_subparsers(dest="command", required=True, parser_class=_Parser))
    return root


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    data = {k: v for k, v in vars(args).items() if v not in (None, [], False)}
    if getattr(args, "file", None):
        loaded = yaml.safe_load(Path(args.file).read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise CommandError("the YAML file must be a mapping")
        data.update({k.replace("-", "_"): v for k, v in loaded.items()})
    return data


async def run(engagement: Engagement, args: argparse.Namespace, operator: str,
              member: MemberCheck | None = None) -> str:
    """Execute one parsed command; returns the answer text. Raises CommandError on bad input."""
    try:
        if args.command == "poll":
            return _poll(engagement, args, operator)
        return await _giveaway(engagement, args, operator, member)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def _poll(e: Engagement, args: argparse.Namespace, operator: str) -> str:
    cmd = args.poll_command
    if cmd == "create":
        f = _fields(args)
        options = f.get("options") or f.get("option") or []
        chats = f.get("chats") or f.get("chat") or []
        if not f.get("question"):
            raise CommandError("--question is required")
        p = e.polls.create(question=str(f["question"]), options=[str(o) for o in options],
                           multiple=bool(f.get("multiple")), anonymous=bool(f.get("anonymous")),
                           changeable=not f.get("locked"), channel=str(f.get("channel") or "telegram"),
                           chats=[str(c) for c in (chats if isinstance(chats, list) else [chats])],
                           opens_at=when(_s(f.get("opens"))), closes_at=when(_s(f.get("closes"))),
                           style="buttons" if f.get("buttons") else None, actor=operator)
        close = f", closes {p.closes_at:%Y-%m-%d %H:%M} UTC" if p.closes_at else ""
        return f"Poll #{p.id} created ({p.style}, opens {p.opens_at:%Y-%m-%d %H:%M} UTC{close}): {p.question}"
    if cmd == "list":
        rows = e.polls.recent()
        return "\n".join(f"#{p.id} [{p.status}] {p.question} ({len(p.options)} options)" for p in rows) or "no polls"
    if cmd == "show":
        shown = e.polls.get(args.id)
        if shown is None:
            raise CommandError(f"no poll #{args.id}")
        return json.dumps(e.polls.describe(shown), indent=2, ensure_ascii=False)
    if cmd == "results":
        res = e.polls.results(args.id, voters=args.voters)
        extra = "".join(f"\n  {v}: {', '.join(res.options[i] for i in o)}" for v, o in sorted(res.by_voter.items()))
        return res.text() + extra
    closed = e.polls.close_now(args.id, operator)
    if closed is None:
        raise CommandError(f"poll #{args.id} is not open")
    return "Closed.\n" + e.polls.results(args.id).text()


async def _giveaway(e: Engagement, args: argparse.Namespace, operator: str, member: MemberCheck | None) -> str:
    g = e.giveaways
    cmd = args.giveaway_command
    if cmd == "create":
        f = _fields(args)
        if not f.get("prize") or not f.get("closes"):
            raise CommandError("--prize and --closes are required")
        announce = f.get("announce") or []
        row = g.create(prize=str(f["prize"]), winners=int(f.get("winners") or 1), closes_at=when(_s(f["closes"])),  # type: ignore[arg-type]
                       opens_at=when(_s(f.get("opens"))), channel=str(f.get("channel") or "telegram"),
                       keyword=_s(f.get("keyword")), question=_s(f.get("question")), answer=_s(f.get("answer")),
                       member_of=_s(f.get("member_of")), entry_post=_s(f.get("post")),
                       announce=[str(a) for a in (announce if isinstance(announce, list) else [announce])],
                       actor=operator)
        return (f"Giveaway #{row.id} created: {row.prize}, {row.winners} winner(s), closes "
                f"{row.closes_at:%Y-%m-%d %H:%M} UTC.\nCommitment (publish it now): {row.commitment}")
    if cmd == "list":
        return "\n".join(f"#{r.id} [{r.status}] {r.prize} ({g.entry_count(r.id)} entries, closes "
                         f"{r.closes_at:%Y-%m-%d %H:%M} UTC)" for r in g.recent()) or "no giveaways"
    if cmd == "audit":
        chk = verify_chain(e.store)
        return (f"OK: {chk.rows} log rows, hash chain intact" if chk.ok
                else "TAMPERED:\n" + "\n".join(chk.problems))
    if cmd == "verify":
        target = str(args.target)
        pub = (g.published(int(target)) if target.isdigit()
               else json.loads(Path(target).read_text(encoding="utf-8")))
        if "seed" not in pub:
            raise CommandError("this giveaway has not been drawn yet: the seed is still secret")
        check = drawing.verify(pub)
        return (f"OK: the draw checks out. Winners: {', '.join(check.winners)}" if check.ok
                else "FAILED:\n" + "\n".join(check.problems))
    if cmd == "show":
        pub = g.published(args.id)
        pub["entrants"] = len(pub["entrants"])
        return json.dumps(pub, indent=2, ensure_ascii=False)
    if cmd == "publish":
        return json.dumps(g.published(args.id), indent=2, ensure_ascii=False)
    if cmd == "export":
        return g.export_csv(args.id, names=args.names)
    if cmd == "close":
        if not g.close_now(args.id, operator):
            raise CommandError(f"giveaway #{args.id} is not open")
        try:
            await g.draw(args.id, member, operator)
        except RuntimeError as exc:
            return f"Closed. The draw will follow automatically ({exc})."
        return "Closed and drawn.\n" + json.dumps(g.published(args.id)["winners"])
    winners, _ = await g.redraw(args.id, args.entrant, args.reason, member, operator)
    return f"Re-drawn by the same rule. Winners now: {', '.join(winners)}"


def _s(v: Any) -> str | None:
    return None if v is None else str(v)
