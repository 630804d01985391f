"""`fancare run`: start the configured channels on one event loop; SIGINT/SIGTERM drain and stop.

Roles (`--role`, bot/workers.py): "all" receives and processes in this one process (the default, and
the only one SQLite supports); "receiver" records what Telegram and Slack deliver and processes no
fan message; "worker" (`fancare worker`) takes recorded messages from the store, answers them, and
runs the timers (outbox, engagement rounds, Slack SLA, crisis watch, retention), receiving nothing.

Each channel module offers `async def serve(app, stop: asyncio.Event) -> None`, which returns once
`stop` is set and its in-flight messages are finished. Alongside them run the ops endpoint
(/healthz, /readyz, /metrics: bot/ops) and the database watch; a stop takes at most
`ops.stop_deadline_s` (bot/ops/shutdown.py): what cannot be sent by then stays in the outbox."""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from bot.app import App
from bot.model_watch import watch
from bot.ops.database import OutageLogFilter
from bot.ops.server import OpsServer, Readiness
from bot.ops.shutdown import stop_within
from bot.workers import Worker

log = logging.getLogger("fancare.run")
ROLES = ("all", "receiver", "worker")
#: messages a worker processes at once when neither `--concurrency` nor `channels.telegram` says
DEFAULT_CONCURRENCY = 32


def channel_servers(app: App, role: str = "all") -> list[tuple[str, Callable[[App, asyncio.Event],
                                                                             Coroutine[Any, Any, None]]]]:
    servers: list[tuple[str, Callable[[App, asyncio.Event], Coroutine[Any, Any, None]]]] = []
    ch = app.cfg.channels
    if ch.telegram is not None and ch.telegram.enabled:
        from bot.channels import telegram

        servers.append(("telegram", functools.partial(telegram.serve, role=role)))
    if ch.slack is not None and ch.slack.enabled:
        from bot.channels import slack

        servers.append(("slack", functools.partial(slack.serve, role=role)))
    return servers


def worker_concurrency(app: App) -> int:
    """The default of `--concurrency`: `channels.telegram.max_concurrency`, the same bound a single
    `fancare run` puts on the updates it processes at once."""
    tg = app.cfg.channels.telegram
    return tg.max_concurrency if tg is not None else DEFAULT_CONCURRENCY


async def run(app: App, stop: asyncio.Event | None = None, *, role: str = "all",
              concurrency: int | None = None) -> int:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if app.role == "receiver" and role != "receiver":
        raise ValueError(f"--role {role} needs an App built for it: App(cfg, role={role!r}) loads the NLU model, "
                         "App(cfg, role='receiver') does not")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    servers = channel_servers(app, role)
    if not servers:
        log.error("no channel is configured under channels: (telegram, slack); use `fancare shell` to chat")
        return 2
    if role != "all" and not app.store.clock.on_server:
        log.warning("--role %s shares the work with other processes through the store: that needs PostgreSQL "
                    "(store.url); on SQLite run one `fancare run`", role)
    if role != "receiver":  # load before taking work: the first fans are answered as fast as the rest
        log.info("loading the encoders, the knowledge base index and the language identifier")
        try:
            await app.pipeline.warm()
        except Exception:  # noqa: BLE001 - each message retries the load and reports what is broken
            log.exception("loading the NLU encoders or the knowledge base failed")
    log.info("starting %s as %s", ", ".join(n for n, _ in servers), role)
    outage = OutageLogFilter(app.database)  # one log line per database outage, not one per message
    handlers = list(logging.getLogger().handlers)
    for h in handlers:
        h.addFilter(outage)
    try:
        return await _serve(app, stop, servers, role, concurrency or worker_concurrency(app))
    finally:
        for h in handlers:
            h.removeFilter(outage)


async def _serve(app: App, stop: asyncio.Event,
                 servers: list[tuple[str, Callable[[App, asyncio.Event], Coroutine[Any, Any, None]]]],
                 role: str = "all", concurrency: int = DEFAULT_CONCURRENCY) -> int:
    tasks: list[asyncio.Task[Any]] = [asyncio.create_task(fn(app, stop), name=name) for name, fn in servers]
    ops = await _start_ops(app, dict(zip([n for n, _ in servers], tasks, strict=True)))
    tasks.append(asyncio.create_task(app.database.run(stop), name="database-watch"))
    tasks.append(asyncio.create_task(watch(app, stop), name="reload"))  # new models/LATEST, domain edits
    if role != "receiver":  # the timers run where messages are processed and sent
        tasks.append(asyncio.create_task(app.pipeline.run_outbox(0.5, stop), name="outbox"))
        tasks.append(asyncio.create_task(app.watch_crisis(stop), name="crisis"))  # early warning from the store
        from bot.privacy import run_retention

        tasks.append(asyncio.create_task(run_retention(app.store, app.cfg, stop), name="retention"))  # once a day
    if role == "worker":
        tasks.append(asyncio.create_task(Worker(app.pipeline, concurrency=concurrency).run(stop), name="worker"))
    deadline = asyncio.create_task(stop_within(stop, tasks, app.pipeline, app.cfg.ops.stop_deadline_s),
                                   name="stop-deadline")
    try:
        if role == "all":  # a worker's queue takes what a dead process left; a receiver processes nothing
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

    readiness = Readiness(model_version=None if app.role == "receiver" else lambda: app.model.version,
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
