"""The operations endpoint of `fancare run` (`ops:` in config.yml), on its own port so probes and
scrapes never share a listener (or a secret) with the Telegram webhook or Slack:

- `GET /healthz`: liveness. Answered by the event loop itself, so a 200 means the loop is not stuck.
- `GET /readyz`: readiness. 200 only when the NLU model is loaded (not asked of a receiver, which
  runs no NLU), the database answers `SELECT 1` within `ops.database_timeout_s`, and every configured
  channel is connected; otherwise 503 with a JSON body naming the check that failed.
- `GET /metrics`: Prometheus text format (bot/ops/metrics.py), rendered off the loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.ops.database import DatabaseWatch
from bot.ops.metrics import OpsMetrics

log = logging.getLogger("fancare.ops")


@dataclass
class Readiness:
    """What `/readyz` asks: the model's version (None: not loaded), the database, the channels.
    `model_version` None: this process serves no model (a receiver), so there is no "model" check."""

    model_version: Callable[[], str | None] | None
    database: DatabaseWatch
    #: channel name -> "is it connected now?"
    channels: dict[str, Callable[[], bool]] = field(default_factory=dict)

    async def checks(self) -> dict[str, dict[str, object]]:
        out: dict[str, dict[str, object]] = {}
        if self.model_version is not None:
            version = self.model_version()
            out["model"] = {"ok": version is not None, **({"version": version} if version else {"error": "not loaded"})}
        db_ok = await self.database.check()
        out["database"] = {"ok": db_ok, **({} if db_ok else {"error": self.database.error})}
        for name, connected in self.channels.items():
            ok = bool(connected())
            out[f"channel:{name}"] = {"ok": ok, **({} if ok else {"error": "not connected"})}
        return out


def ops_app(readiness: Readiness, metrics: OpsMetrics) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(_: web.Request) -> web.Response:
        checks = await readiness.checks()
        failed = sorted(k for k, v in checks.items() if not v["ok"])
        body = {"status": "ready" if not failed else "unready", "failed": failed, "checks": checks}
        return web.Response(status=200 if not failed else 503, text=json.dumps(body),
                            content_type="application/json")

    async def metrics_page(_: web.Request) -> web.Response:
        body = await asyncio.to_thread(metrics.render)  # store queries: never on the loop
        resp = web.Response(body=body)
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    return app


class OpsServer:
    """Listens on `host:port` between `start` and `stop`; `port` is the bound one (config port 0: any)."""

    def __init__(self, readiness: Readiness, metrics: OpsMetrics, host: str, port: int) -> None:
        self.runner = web.AppRunner(ops_app(readiness, metrics), access_log=None)
        self.host = host
        self.port = port

    async def start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        for addr in self.runner.addresses:
            if isinstance(addr, tuple) and len(addr) >= 2:
                self.port = int(addr[1])
                break
        log.info("ops endpoint listening on http://%s:%s (/healthz /readyz /metrics)", self.host, self.port)

    async def stop(self) -> None:
        await self.runner.cleanup()
