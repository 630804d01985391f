"""`fancare run`: start the configured channels on one event loop; SIGINT/SIGTERM drain and stop.

Each channel module offers `async def serve(app, stop: asyncio.Event) -> None`, which returns once
`stop` is set and its in-flight messages are finished."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from bot.app import App
from bot.model_watch import watch

log = logging.getLogger("fancare.run")


def channel_servers(app: App) -> list[tuple[str, Callable[[App, asyncio.Event], Coroutine[Any, Any, None]]]]:
    servers: list[tuple[str, Callable[[App, asyncio.Event], Coroutine[Any, Any, None]]]] = []
    ch = app.cfg.channels
    if ch.telegram is not None and ch.telegram.enabled:
        from bot.channels import telegram

        servers.append(("telegram", telegram.serve))
    if ch.slack is not None and ch.slack.enabled:
        from bot.channels import slack

        servers.append(("slack", slack.serve))
    return servers


async def run(app: App, stop: asyncio.Event | None = None) -> int:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    servers = channel_servers(app)
    if not servers:
        log.error("no channel is configured under channels: (telegram, slack); use `fancare shell` to chat")
        return 2
    log.info("starting %s", ", ".join(n for n, _ in servers))
    tasks: list[asyncio.Task[Any]] = [asyncio.create_task(fn(app, stop), name=name) for name, fn in servers]
    tasks.append(asyncio.create_task(app.pipeline.run_outbox(0.5, stop), name="outbox"))
    tasks.append(asyncio.create_task(watch(app, stop), name="reload"))  # new models/LATEST, domain edits
    tasks.append(asyncio.create_task(app.watch_crisis(stop), name="crisis"))  # early warning from the store
    from bot.privacy import run_retention

    tasks.append(asyncio.create_task(run_retention(app.store, app.cfg, stop), name="retention"))  # once a day
    await app.pipeline.recover()
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    for t in done:
        if t.exception() is not None:
            log.error("channel %s failed: %s", t.get_name(), t.exception())
            stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return 0
