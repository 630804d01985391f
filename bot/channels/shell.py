"""The shell channel: chat as a fan in the terminal, through the full pipeline.

Interactive: a prompt; numbered buttons can be picked by typing their number. Piped stdin: one fan
message per line, the bot's replies on stdout, so scripts can drive it. Lines starting with `#` are
local operator commands (`#inbox`, `#claim N`, `#reply N text`, `#resolve N`, `#handback N`).
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from typing import Any, TextIO

from bot import inbox
from bot.app import App
from bot.channels.base import Incoming
from bot.model_watch import watch
from dialogs.domain import Outgoing

OPERATOR = "local-operator"


class ShellChannel:
    name = "shell"

    def __init__(self, out: TextIO, interactive: bool) -> None:
        self.out = out
        self.interactive = interactive
        self.last_buttons: list[str] = []

    async def send(self, chat_id: str, message: Outgoing, *, reply_to: str | None = None,
                   meta: dict[str, Any] | None = None) -> str | None:
        prefix = "bot> " if self.interactive else ""
        sender = (meta or {}).get("operator")
        if sender:
            prefix = f"{sender}> " if self.interactive else f"[{sender}] "
        self.out.write(prefix + message.text + "\n")
        self.last_buttons = []
        for i, b in enumerate(message.buttons, 1):
            self.out.write(f"  [{i}] {b.title}\n")
            self.last_buttons.append(b.payload)
        self.out.flush()
        return uuid.uuid4().hex


def operator_command(app: App, line: str) -> str:
    parts = line[1:].strip().split(maxsplit=2)
    if not parts:
        return "operator commands: #inbox, #show N, #claim N, #reply N text, #resolve N, #handback N"
    cmd, args = parts[0].lower(), parts[1:]
    try:
        if cmd == "inbox":
            rows = inbox.list_open(app.store)
            if not rows:
                return "inbox: no open escalations"
            return "\n".join(f"#{r['id']} [{r['priority']}] {r['queue']} {r['state']}"
                             f"{' by ' + r['claimed_by'] if r['claimed_by'] else ''}: {r['last']}" for r in rows)
        n = int(args[0]) if args else 0
        if cmd == "show":
            return json.dumps(inbox.show(app.store, n), indent=2, ensure_ascii=False)
        if cmd == "claim":
            return inbox.claim(app.store, n, OPERATOR).message
        if cmd == "reply":
            return inbox.reply(app.store, n, OPERATOR, args[1] if len(args) > 1 else "").message
        if cmd in ("resolve", "handback"):
            state = "resolved" if cmd == "resolve" else "handed_back"
            return inbox.close(app.store, app.domain, n, OPERATOR, state).message
    except (ValueError, IndexError):
        pass
    return "usage: #inbox | #show N | #claim N | #reply N text | #resolve N | #handback N"


async def run_shell(app: App, *, user_id: str, display_name: str, debug: bool = False,
                    stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    interactive = stdin.isatty()
    channel = ShellChannel(stdout, interactive)
    app.pipeline.add_channel(channel)
    app.pipeline.operators = _ShellOperators(stdout if interactive else sys.stderr)
    await app.pipeline.recover()
    stop = asyncio.Event()
    poller = asyncio.create_task(app.pipeline.run_outbox(0.3, stop))
    reloader = asyncio.create_task(watch(app, stop))  # a new model from `fancare train` is picked up live
    if interactive:
        stdout.write(f"{app.cfg.brand.name} assistant (model {app.model.version}). Type a message; "
                     "Ctrl-D to quit; '#' for operator commands.\n")
        stdout.flush()
    loop = asyncio.get_running_loop()
    try:
        while True:
            if interactive:
                stdout.write("you> ")
                stdout.flush()
            line = await loop.run_in_executor(None, stdin.readline)
            if line == "":
                break
            line = line.rstrip("\r\n")
            if line.startswith("#"):
                stdout.write(operator_command(app, line) + "\n")
                stdout.flush()
                await app.pipeline.dispatch()
                continue
            meta: dict[str, Any] = {}
            if interactive and line.strip().isdigit() and channel.last_buttons:
                i = int(line.strip()) - 1
                if 0 <= i < len(channel.last_buttons):  # a picked button is a press; typed `/x` is text
                    line, meta = channel.last_buttons[i], {"button": True}
            result = await app.pipeline.handle(Incoming(
                channel="shell", external_id=uuid.uuid4().hex, chat_id=f"shell:{user_id}", user_id=user_id,
                text=line, display_name=display_name, meta=meta))
            if debug and result.debug:
                stdout.write("debug> " + json.dumps(result.debug, ensure_ascii=False) + "\n")
                stdout.flush()
    finally:
        stop.set()
        await poller
        await reloader
        await app.pipeline.dispatch()
    return 0


class _ShellOperators:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    async def escalation_opened(self, escalation_id: int, queue: str, priority: str) -> None:
        self.out.write(f"[inbox] escalation #{escalation_id} opened in queue '{queue}' ({priority}); "
                       f"'#claim {escalation_id}' to take it\n")
        self.out.flush()

    async def fan_message(self, escalation_id: int, text: str) -> None:
        self.out.write(f"[inbox] relayed to #{escalation_id}\n")
        self.out.flush()
