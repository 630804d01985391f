"""A stop within a deadline (`ops.stop_deadline_s`, default 8 s: under Docker's 10 s before SIGKILL).

On SIGTERM/SIGINT the channels stop taking work (polling ends, the webhook closes) and finish the
messages in hand; replies go out while there is time. A group's replies are paced by Telegram's
20-per-minute limit, so a backlog can take far longer than any deadline: from `deadline - SEND_MARGIN_S`
no new send starts (`Pipeline.send_until`), and at `deadline - EXIT_MARGIN_S` whatever still runs is
cancelled. Unsent replies stay in the outbox (they are rows in the store) and the next start sends
them. A send cancelled while in flight stays leased and is retried after its lease, counted as a
possible duplicate (fancare_possible_duplicate_sends_total), because it may have reached the platform.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

log = logging.getLogger("fancare.run")
#: no send starts in the last seconds (one paced group send waits up to 3 s in the limiter)
SEND_MARGIN_S = 3.0
#: what runs at this point before the deadline is cancelled (the process still has to close and exit)
EXIT_MARGIN_S = 1.5


async def stop_within(stop: asyncio.Event, tasks: list[asyncio.Task[Any]], pipeline: Any, deadline_s: float) -> None:
    """Once `stop` is set, give `tasks` until the deadline to finish, then cancel the rest."""
    await stop.wait()
    started = time.monotonic()
    pipeline.send_until = started + max(0.0, deadline_s - SEND_MARGIN_S)
    log.info("stopping: no new work; finishing what is in hand (deadline %g s)", deadline_s)
    pending = [t for t in tasks if not t.done()]
    if pending:
        _, still = await asyncio.wait(pending, timeout=max(0.1, deadline_s - EXIT_MARGIN_S))
        if still:
            log.warning("stop deadline: cancelling %s", ", ".join(sorted(t.get_name() for t in still)))
            for t in still:
                t.cancel()
            await asyncio.gather(*still, return_exceptions=True)
    left = await asyncio.to_thread(_unsent, pipeline)
    log.info("stopped after %.1f s; %s replies left in the outbox for the next start", time.monotonic() - started,
             left if left is not None else "unknown (database unreachable)")


def _unsent(pipeline: Any) -> int | None:
    from sqlalchemy import func, select

    from bot.store import Message

    try:
        with pipeline.store.session() as s:
            return int(s.scalar(select(func.count(Message.id)).where(
                Message.direction == "out", Message.status.in_(("pending", "sending")))) or 0)
    except Exception:  # noqa: BLE001 - a stop during an outage still stops
        return None
