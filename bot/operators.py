"""The operator port: how humans hear about escalations and fans' messages while they own a
conversation. The local adapter keeps everything in the store (read with `fancare inbox` or the
shell's `#` commands); the Slack adapter lives in its own module."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("fancare.operators")


class OperatorInbox(Protocol):
    async def escalation_opened(self, escalation_id: int, queue: str, priority: str) -> None: ...

    async def fan_message(self, escalation_id: int, text: str) -> None: ...


class LocalInbox:
    """Escalations wait in the store; `notify` (e.g. the shell printing a line) is optional."""

    def __init__(self, notify: Callable[[str], None] | None = None) -> None:
        self.notify = notify

    async def escalation_opened(self, escalation_id: int, queue: str, priority: str) -> None:
        log.info("escalation #%s opened (queue=%s, priority=%s)", escalation_id, queue, priority)
        if self.notify:
            self.notify(f"escalation #{escalation_id} opened in queue '{queue}' ({priority}); "
                        f"'#claim {escalation_id}' to take it")

    async def fan_message(self, escalation_id: int, text: str) -> None:
        if self.notify:
            self.notify(f"fan wrote on #{escalation_id}: {text}")

    async def note(self, text: str) -> None:
        """Something the team should know that is not a ticket (e.g. a custom action that failed)."""
        log.warning("operator note: %s", text)
        if self.notify:
            self.notify(f"note: {text}")
