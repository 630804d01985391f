"""`fancare run`: start the configured channels on one event loop; SIGINT/SIGTERM drain and stop.

Each channel module offers `async def serve(app, stop: asyncio.Event) -> None`, which returns once
`stop` is set and its in-flight messages are finished. Alongside them run the ops endpoint
(/healthz, /readyz, /metrics: bot/ops) and the database watch; a stop takes at most
`ops.stop_deadline_s` (bot/ops/shutdown.py): what cannot be sent by then stays in the outbox."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from bot.app import App
from bot.model_watch import watch
from bot.ops.database import OutageLogFilter
from bot.ops.server import OpsServer, Readiness
from bot.ops.shutdown import stop_within

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
    outage = OutageLogFilter(app.database)  # one log line per database outage, not one per message
    handlers = list(logging.getLogger().handlers)
    for h in handlers:
        h.addFilter(outage)
    try:
        return await _serve(app, stop, servers)
    finally:
        for h in handlers:
            h.removeFilter(outage)


async def _serve(app: App, stop: asyncio.Event,
                 servers: list[tuple[str, Callable[[App, asyncio.Event], Coroutine[Any, Any, None]]]]) -> int:
    tasks: list[asyncio.Task[Any]] = [asyncio.create_task(fn(app, stop), name=name) for name, fn in servers]
    ops = await _start_ops(app, dict(zip([n for n, _ in servers], tasks, strict=True)))
    tasks.append(asyncio.create_task(app.database.run(stop), name="database-watch"))
    tasks.append(asyncio.create_task(app.pipeline.run_outbox(0.5, stop), name="outbox"))
    tasks.append(asyncio.create_task(watch(app, stop), name="reload"))  # new models/LATEST, domain edits
    tasks.append(asyncio.create_task(app.watch_crisis(stop), name="crisis"))  # early warning from the store
    from bot.privacy import run_retention

    tasks.append(asyncio.create_task(run_retention(app.store, app.cfg, stop), name="retention"))  # once a day
    deadline = asyncio.create_task(stop_within(stop, tasks, app.pipeline, app.cfg.ops.stop_deadline_s),
                                   name="stop-deadline")
    try:
        await app.pipeline.recover()
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for t in done:
            if not t.cancelled() and t.exception() is not None:
                log.error("channel %s failed: %s", t.get_name(), t.exception())
                stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await deadline
    finally:
        deadline.cancel()
        if ops is not None:
            await ops.stop()
    return 0


async def _start_ops(app: App, channel_tasks: dict[str, asyncio.Task[Any]]) -> OpsServer | None:
    """The ops endpoint (`ops:`); a port that cannot be bound is logged and serving goes on (the
    probes then fail, which is what tells the orchestrator)."""
    cfg = app.cfg.ops
    if not cfg.enabled:
        return None

    def connected(name: str) -> Callable[[], bool]:
        task = channel_tasks[name]
        if name == "telegram":  # added to the pipeline once getMe answered
            return lambda: not task.done() and name in app.pipeline.channels
        return lambda: not task.done() and type(app.pipeline.operators).__module__.startswith(f"bot.channels.{name}")

    readiness = Readiness(model_version=lambda: app.model.version if app.model is not None else None,
                          database=app.database, channels={n: connected(n) for n in channel_tasks})
    server = OpsServer(readiness, app.metrics, cfg.host, cfg.port)
    try:
        await server.start()
    except OSError as exc:
        log.error("ops endpoint could not listen on %s:%s (%s); serving without /healthz, /readyz, /metrics",
                  cfg.host, cfg.port, exc.strerror or type(exc).__name__)
        await server.stop()
        return None
    return server
