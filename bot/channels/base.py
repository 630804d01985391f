"""The channel port: one envelope in (`Incoming`), one method out (`Channel.send`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from dialogs.domain import Outgoing


@dataclass(frozen=True)
class Incoming:
    """A fan's message from any channel. `external_id` is unique per channel (dedup key)."""

    channel: str
    external_id: str
    chat_id: str
    user_id: str
    text: str
    display_name: str | None = None
    language: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class RetryableSendError(Exception):
    """The platform said "later" (429, 5xx, network). `retry_after` in seconds, if it told us."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentSendError(Exception):
    """The platform refused for good (blocked by the fan, chat gone): do not retry."""


class Channel(Protocol):
    name: str

    async def send(self, chat_id: str, message: Outgoing, *, reply_to: str | None = None,
                   meta: dict[str, Any] | None = None) -> str | None:
        """Deliver one message; return the platform's message id if there is one."""
        ...
