"""Who may act as an operator from Slack: the allow-list, or members of the operator user group.

One filter, and it blocks when in doubt: with neither configured nobody may act, and when Slack
cannot tell us the group's members (and we have no recent answer) the user is refused."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("fancare.slack.access")


class OperatorAccess:
    def __init__(self, client: AsyncWebClient, *, allow: list[str], usergroup: str | None,
                 ttl_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.allow = set(allow)
        self.usergroup = usergroup
        self.ttl_s = ttl_s
        self.clock = clock
        self._members: set[str] | None = None
        self._fetched_at = 0.0

    async def is_operator(self, user_id: str | None) -> bool:
        if not user_id:
            return False
        if user_id in self.allow:
            return True
        if not self.usergroup:
            return False
        members = await self._group_members()
        return members is not None and user_id in members

    async def _group_members(self) -> set[str] | None:
        now = self.clock()
        if self._members is not None and now - self._fetched_at < self.ttl_s:
            return self._members
        if self.usergroup is None:
            return None
        try:
            resp = await self.client.usergroups_users_list(usergroup=self.usergroup)
            self._members = set(resp.get("users") or [])
            self._fetched_at = now
        except Exception as exc:  # noqa: BLE001 - keep the last answer for a while, else refuse
            log.warning("could not read operator user group: %s", type(exc).__name__)
            if self._members is not None and now - self._fetched_at < 10 * self.ttl_s:
                return self._members
            return None
        return self._members
