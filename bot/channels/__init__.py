"""Channel adapters: thin translations between a platform and fancare's `Incoming` / `Outgoing`."""

from bot.channels.base import Channel, Incoming, PermanentSendError, RetryableSendError

__all__ = ["Channel", "Incoming", "PermanentSendError", "RetryableSendError"]
