"""A channel adapter that records what fancare sends, for pipeline-level tests (not a mock of our
code: it is a real implementation of the `Channel` port, like the shell's)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from bot.channels.base import Incoming
from dialogs.domain import Outgoing

_ids = itertools.count(1)


@dataclass
class Sent:
    chat_id: str
    message: Outgoing
    meta: dict[str, Any]


@dataclass
class RecordingChannel:
    name: str = "test"
    sent: list[Sent] = field(default_factory=list)
    fail_next: list[Exception] = field(default_factory=list)

    async def send(self, chat_id: str, message: Outgoing, *, reply_to: str | None = None,
                   meta: dict[str, Any] | None = None) -> str | None:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.sent.append(Sent(chat_id, message, dict(meta or {})))
        return str(next(_ids))

    def texts(self, chat_id: str | None = None) -> list[str]:
        return [s.message.text for s in self.sent if chat_id is None or s.chat_id == chat_id]


def fan_message(text: str, *, user: str = "u1", chat: str | None = None, ext: str | None = None,
                name: str = "Sam", channel: str = "test", button: bool = False) -> Incoming:
    """`button=True`: a press of a button the bot sent (as a channel marks it), not typed text."""
    return Incoming(channel=channel, external_id=ext or f"{user}-{next(_ids)}", chat_id=chat or f"chat-{user}",
                    user_id=user, text=text, display_name=name, meta={"button": True} if button else {})
