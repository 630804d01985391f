"""Webhook mode: an aiohttp endpoint that checks, records and acks; the work runs afterwards.

- the `X-Telegram-Bot-Api-Secret-Token` header must match `webhook.secret_token` (else 403);
- bodies over `webhook.max_body_bytes` are refused with 413 before being read;
- the update is committed to the store before the 200, so an ack never loses an update; a
  failure answers 500 and Telegram delivers again (the update_id dedup makes that harmless);
- processing happens in background tasks, so Telegram's request returns in milliseconds.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from telegram import Update

from bot.channels.telegram_updates import ALLOWED_UPDATES
from bot.config import secret

if TYPE_CHECKING:
    from bot.channels.telegram import TelegramService

log = logging.getLogger("fancare.telegram.webhook")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook_app(service: TelegramService) -> web.Application:
    cfg = service.cfg.webhook
    expected = secret(cfg.secret_token) or ""
    limit = cfg.max_body_bytes

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            service.metrics["telegram_webhook_forbidden"] += 1
            return web.Response(status=403, text="forbidden")
        if request.content_length is not None and request.content_length > limit:
            return web.Response(status=413, text="too large")
        try:
            body = await request.read()  # also capped by client_max_size for chunked bodies
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413, text="too large")
        try:
            data = json.loads(body)
            update = Update.de_json(data, service.bot)
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400, text="bad update")
        if update is None:
            return web.Response(status=400, text="bad update")
        try:
            await service.ingest([update])
        except Exception:  # noqa: BLE001 - not recorded: make Telegram deliver it again
            log.exception("telegram webhook: could not record update %s", update.update_id)
            return web.Response(status=500, text="retry")
        return web.Response(status=200, text="ok")

    app = web.Application(client_max_size=limit)
    app.router.add_post(cfg.path, receive)
    return app


async def run_webhook(service: TelegramService, stop: asyncio.Event) -> None:
    """Listen until `stop`; register the webhook with Telegram when a public `url` is configured."""
    cfg = service.cfg.webhook
    if not secret(cfg.secret_token):
        raise RuntimeError("channels.telegram.webhook.secret_token is required in webhook mode")
    runner = web.AppRunner(webhook_app(service), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, cfg.listen, cfg.port)
    await site.start()
    service.webhook_port = _bound_port(runner)
    log.info("telegram webhook listening on %s:%s%s", cfg.listen, service.webhook_port, cfg.path)
    try:
        if cfg.url:
            await service.bot.set_webhook(cfg.url, secret_token=secret(cfg.secret_token),
                                          allowed_updates=ALLOWED_UPDATES)
        service.ready.set()
        await stop.wait()
    finally:
        await runner.cleanup()


def _bound_port(runner: web.AppRunner) -> int:
    for addr in runner.addresses:
        if isinstance(addr, tuple) and len(addr) >= 2:
            return int(addr[1])
    return 0
