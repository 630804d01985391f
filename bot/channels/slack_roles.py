"""Who is who in the Slack console: `admin`, `operator` or nobody.

Admins are `channels.slack.admins` (Slack user ids) and members of `channels.slack.admin_group` (a user
group, read with `usergroups.users.list`); operators are the operator allow-list or user group
(`slack_access.OperatorAccess`). An admin is also an operator.

Admin-only (`ADMIN_ONLY`): banning from a moderation review post, the crisis playbook switch, creating,
closing and drawing polls and giveaways, `/fancare privacy`, and resolving or handing back a ticket
another operator claimed. With no admin configured, roles are off: every operator may do all of it
(so an existing install does not lock itself out), except `/fancare privacy`, which always needs an
admin.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from bot.channels.slack_access import OperatorAccess

log = logging.getLogger("fancare.slack.roles")
Role = Literal["admin", "operator"]

POLL_ADMIN = frozenset({"create", "close"})
GIVEAWAY_ADMIN = frozenset({"create", "close", "redraw", "publish"})


def refusal(what: str) -> str:
    return f"Sorry, only fancare admins can {what} (channels.slack.admins). This attempt has been recorded."


def command_needs_admin(sub: str, args: list[str]) -> str | None:
    """What an admin-only `/fancare` command does (for the refusal), or None when operators may run it."""
    first = args[0].lower() if args else ""
    if sub == "crisis" and first in ("on", "off"):
        return "switch the crisis playbook on or off"
    if sub == "poll" and first in POLL_ADMIN:
        return f"{first} polls"
    if sub == "giveaway" and first in GIVEAWAY_ADMIN:
        return f"{first} giveaways"
    return None


class Roles:
    def __init__(self, cfg: Any, operators: OperatorAccess) -> None:
        self.operators = operators
        self.admins = OperatorAccess(operators.client, allow=list(cfg.admins),
                                     usergroup=getattr(cfg, "admin_group", None))
        self.enforced = bool(cfg.admins or getattr(cfg, "admin_group", None))

    def warn_if_off(self) -> None:
        if not self.enforced:
            log.warning("Slack roles are off: channels.slack.admins is empty, so every operator may ban, run the "
                        "crisis playbook, polls and giveaways, and resolve others' tickets")

    async def role_of(self, user_id: str | None) -> Role | None:
        if not user_id:
            return None
        if await self.admins.is_operator(user_id):
            return "admin"
        if await self.operators.is_operator(user_id):
            return "operator"
        return None

    async def is_admin(self, user_id: str | None) -> bool:
        """Strictly an admin (for `/fancare privacy`, which needs one even with roles off)."""
        return self.enforced and await self.role_of(user_id) == "admin"

    async def may_admin(self, user_id: str | None) -> bool:
        """May do admin-only things: an admin, or any operator while roles are off."""
        if not self.enforced:
            return await self.role_of(user_id) is not None
        return await self.is_admin(user_id)
