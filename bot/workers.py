"""`fancare worker`: answer the fan messages receivers recorded, in each fan's order.

    receiver (`fancare run --role receiver`): Telegram/Slack -> store.record_inbound (durable)
    worker   (`fancare worker`): claim_work (bot/store/work.py) -> Pipeline.process -> outbox -> send

A worker asks the store for conversations whose next message is waiting (at most `concurrency` at
a time), runs each through the same `Pipeline.process` as a single `fancare run`, and sends the
replies. The store decides who takes what, so any number of workers on any hosts can share one
PostgreSQL; a worker that dies leaves leases that run out, and its message is taken again.

Workers wake by polling: every `idle_s` (50 ms) while the queue is empty, at once when one of their
messages is finished (the fan's next message may be waiting behind it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from bot.pipeline import MAX_INBOUND_ATTEMPTS, Pipeline
from bot.store import Message, Store
from bot.store.work import WorkItem, claim_work

__all__ = ["Worker"]

log = logging.getLogger("fancare.worker")
#: how long a worker waits after the work query failed (the database is down) before asking again
RETRY_S = 1.0


class Worker:
    """Takes work from the store until `stop`; then finishes the messages in hand and returns."""

    def __init__(self, pipeline: Pipeline, *, concurrency: int, idle_s: float = 0.05) -> None:
        if concurrency < 1:
            raise ValueError("worker concurrency must be at least 1")
        self.pipeline = pipeline
        self.concurrency = concurrency
        self.idle_s = idle_s
        self._tasks: set[asyncio.Task[Any]] = set()
        self._wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        failing = False
        log.info("worker %s: taking up to %d conversations at a time", self.pipeline.owner, self.concurrency)
        try:
            while not stop.is_set():
                free = self.concurrency - len(self._tasks)
                items: list[WorkItem] = []
                if free > 0:
                    try:
                        items = await self.pipeline.store.run(  # off the event loop, in the store's threads
                            claim_work, self.pipeline.store, self.pipeline.owner,
                            channels=list(self.pipeline.channels), limit=free)
                    except Exception as exc:  # noqa: BLE001 - the database is down: ask again, log once
                        if not failing:
                            log.warning("worker: cannot read the work queue (%s); retrying every %g s",
                                        type(exc).__name__, RETRY_S)
                            failing = True
                        await _sleep(stop, RETRY_S)
                        continue
                    if failing:
                        log.info("worker: the work queue is readable again")
                        failing = False
                for item in items:
                    self._spawn(item)
                if free > 0 and len(items) == free:
                    continue  # the queue may hold more: ask again while there is room
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.idle_s)
        finally:
            # stopping: take nothing new, finish what is in hand (the stop deadline cancels the rest)
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, item: WorkItem) -> None:
        task = asyncio.create_task(self.handle(item), name=f"message-{item.message_id}")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._wake.set()

    async def handle(self, item: WorkItem) -> None:
        """One claimed message through the pipeline, then its replies out. A failure never stops the
        worker: the message stays unfinished and is taken again once its lease runs out."""
        p = self.pipeline
        try:
            if item.attempts >= MAX_INBOUND_ATTEMPTS:
                await self._dead_letter(item)
                return
            await p.process(item.message_id, item.conversation_id)  # releases the conversation lease
            p.metrics["worker_processed"] += 1
            await p.dispatch(item.conversation_id)
        except Exception:  # noqa: BLE001
            log.exception("worker: message %s failed (attempt %s)", item.message_id, item.attempts + 1)

    async def _dead_letter(self, item: WorkItem) -> None:
        """A message that failed every try: set aside (operators told once), the fan's next message
        may go on."""
        p = self.pipeline
        try:
            m = await p.store.run(_message, p.store, item.message_id)
            if m is not None:
                await p._dead_inbound(m)  # the same dead letter and operator note as `recover()`
        finally:
            await p.store.run(p.store.unlock_conversation, item.conversation_id, p.owner)


def _message(store: Store, message_id: int) -> Message | None:
    with store.session() as s:
        return s.get(Message, message_id)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
