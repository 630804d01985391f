"""The moderation-actions port: what a verdict does on the platform (opsdroid's DeleteMessage /
BanUser events, as one small interface). `LogActions` is the local adapter (shell, tests, dry
runs); `moderation/telegram_actions.py` acts on Telegram groups.

`apply` turns a verdict into port calls; a failing platform call is logged and never stops the
pipeline (the item is recorded either way)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from moderation.rules import Verdict

log = logging.getLogger("fancare.moderation")


@dataclass(frozen=True)
class Target:
    """Where the message is: platform chat id, platform user id, platform message id."""

    channel: str
    chat_id: str
    user_id: str
    message_id: str | None = None
    sender_chat: str | None = None  # Telegram: the message was sent as a channel / anonymous admin


class ModerationActions(Protocol):
    """Each call returns False when it chose not to act (an admin, the brand's channel)."""

    async def delete_message(self, t: Target) -> bool: ...

    async def restrict(self, t: Target, minutes: int) -> bool: ...

    async def ban(self, t: Target) -> bool: ...

    async def notice(self, t: Target, text: str) -> bool: ...

    async def lift(self, t: Target, action: str) -> bool:
        """Undo a "mute" or "ban" (a moderator restored the item)."""
        ...


@dataclass
class LogActions:
    """Records what would be done on the platform (and logs it at INFO without any message text)."""

    calls: list[tuple[str, Target, object]] = field(default_factory=list)

    async def delete_message(self, t: Target) -> bool:
        self.calls.append(("delete", t, None))
        log.info("moderation: delete message %s in %s/%s", t.message_id, t.channel, t.chat_id)
        return True

    async def restrict(self, t: Target, minutes: int) -> bool:
        self.calls.append(("restrict", t, minutes))
        log.info("moderation: mute user %s in %s/%s for %s min", t.user_id, t.channel, t.chat_id, minutes)
        return True

    async def ban(self, t: Target) -> bool:
        self.calls.append(("ban", t, None))
        log.info("moderation: ban user %s in %s/%s", t.user_id, t.channel, t.chat_id)
        return True

    async def notice(self, t: Target, text: str) -> bool:
        self.calls.append(("notice", t, text))
        return True

    async def lift(self, t: Target, action: str) -> bool:
        self.calls.append(("lift", t, action))
        log.info("moderation: lift %s of user %s in %s/%s", action, t.user_id, t.channel, t.chat_id)
        return True


async def apply(port: ModerationActions, verdict: Verdict, target: Target, notice_text: str) -> list[str]:
    """Carry out an enforced verdict; returns the calls that succeeded (for the audit log)."""
    if verdict.dry_run or verdict.action in ("allow", "flag"):
        return []
    done: list[str] = []
    steps: list[tuple[str, object]] = []
    if verdict.action in ("hide", "mute", "ban") and target.message_id:
        steps.append(("delete", None))
    if verdict.action == "mute":
        steps.append(("restrict", int(verdict.details.get("mute_minutes") or 60)))
    if verdict.action == "ban":
        steps.append(("ban", None))
    if verdict.details.get("notice") or verdict.action == "warn":
        steps.append(("notice", notice_text.format(rule=verdict.rule or "")))
    for name, arg in steps:
        if name == "notice" and verdict.action != "warn" and (len(steps) == 1 or len(done) < len(steps) - 1):
            break  # nothing was removed (protected sender or a failure): say nothing in public
        try:
            if name == "delete":
                ok = await port.delete_message(target)
            elif name == "restrict":
                ok = await port.restrict(target, int(arg))  # type: ignore[call-overload]
            elif name == "ban":
                ok = await port.ban(target)
            else:
                ok = await port.notice(target, str(arg))
        except Exception as exc:  # noqa: BLE001 - moderation must not break message handling
            log.warning("moderation action %s failed on %s: %s", name, target.channel, type(exc).__name__)
            continue
        if ok:
            done.append(name)
    return done
