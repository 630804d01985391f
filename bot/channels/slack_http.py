"""HTTP mode: an aiohttp server that verifies every Slack request before bolt sees it.

Like bolt's own request-verification middleware, but in front of body parsing: a forged, stale
(outside the 5-minute window) or malformed request (non-numeric timestamp, non-ASCII signature,
invalid UTF-8, oversized body) gets a 4xx and is never parsed; neither its body nor its headers
are logged. Verified requests are handed to bolt unchanged (bolt verifies again: harmless).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Sequence

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

log = logging.getLogger("fancare.slack.http")
WINDOW_S = 300
_TS = re.compile(r"[0-9]{1,12}")


def verify(secret: str, raw: bytes, timestamp: str, signature: str, now: float) -> tuple[int, str] | None:
    """None if the request is Slack's; else (status, reason) to answer with."""
    if not _TS.fullmatch(timestamp or ""):
        return 400, "bad timestamp"
    if abs(now - int(timestamp)) > WINDOW_S:
        return 401, "stale request"
    base = b"v0:" + timestamp.encode() + b":" + raw
    expected = ("v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()).encode()
    if not hmac.compare_digest(expected, (signature or "").encode("utf-8", "surrogateescape")):
        return 401, "invalid signature"
    return None


class SlackHTTPServer:
    def __init__(self, bolt: AsyncApp, signing_secret: str, *, path: str = "/slack/events",
                 max_body_bytes: int = 1_000_000, clock: Callable[[], float] = time.time) -> None:
        self.bolt = bolt
        self.secret = signing_secret
        self.path = path
        self.max_body_bytes = max_body_bytes
        self.clock = clock
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def web_app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_body_bytes)
        app.router.add_post(self.path, self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > self.max_body_bytes:
            return web.Response(status=413, text="request too large")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413, text="request too large")
        refused = verify(self.secret, raw, request.headers.get("X-Slack-Request-Timestamp", ""),
                         request.headers.get("X-Slack-Signature", ""), self.clock())
        if refused is not None:
            log.warning("refused a Slack request from %s: %s", request.remote, refused[1])
            return web.Response(status=refused[0], text=refused[1])
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            log.warning("refused a Slack request from %s: body is not UTF-8", request.remote)
            return web.Response(status=400, text="body is not UTF-8")
        headers: dict[str, str | Sequence[str]] = {k.lower(): v for k, v in request.headers.items()}
        bolt_resp = await self.bolt.async_dispatch(
            AsyncBoltRequest(body=body, query=request.query_string, headers=headers))
        content_type = bolt_resp.headers.pop("content-type", ["text/plain"])[0].split(";")[0]
        return web.Response(status=bolt_resp.status, body=bolt_resp.body, content_type=content_type,
                            headers=bolt_resp.first_headers_without_set_cookie())

    async def start(self, host: str, port: int) -> int:
        self._runner = web.AppRunner(self.web_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server  # noqa: SLF001 - the only way to learn the port when asked for port 0
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        log.info("Slack HTTP endpoint listening on %s:%s%s", host, self.port, self.path)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
