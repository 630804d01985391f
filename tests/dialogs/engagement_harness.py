"""Telegram (real python-telegram-bot -> fake Bot API) and the Slack console (real bolt + slack_sdk
-> fake Slack Web API, signed requests over HTTP) on one App, as `fancare run` wires them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.channels import telegram_engagement
from bot.channels.slack import SlackConsole
from bot.channels.slack_http import SlackHTTPServer
from tests.bot.channels.telegram_harness import TelegramHarness, make_app
from tests.fakes.recording_channel import RecordingChannel
from tests.fakes.slack_fixtures import SIGNING_SECRET, SlackHarness
from tests.fakes.slack_server import FakeSlack
from tests.fakes.telegram_server import FakeTelegram

Live = tuple[TelegramHarness, SlackHarness]


@pytest.fixture
async def live(tmp_path: Path, store_url: str, model_dir: Path, nlu_model: Any, telegram_server: FakeTelegram,
               slack_fake: FakeSlack, slack_config: Any,
               monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Callable[[], Awaitable[Live]]]:
    """`await live()` starts (or, called again, restarts on the same database) both channels."""
    monkeypatch.setattr(telegram_engagement, "TICK_S", 0.2)
    running: list[tuple[TelegramHarness, SlackHarness]] = []
    http = aiohttp.ClientSession()

    async def stop_all() -> None:
        while running:
            h, sh = running.pop()
            await h.stop()
            await sh.console.inbox.settle()
            await sh.server.stop()
            h.app.close()

    async def start() -> Live:
        await stop_all()
        app = make_app(tmp_path, store_url, model_dir, nlu_model, telegram_server, monkeypatch)
        console = SlackConsole(app, slack_config, backoff_s=0.0)
        console.install()
        server = SlackHTTPServer(console.bolt, SIGNING_SECRET, path=slack_config.path)
        port = await server.start("127.0.0.1", 0)
        h = await TelegramHarness(app, telegram_server).start()
        sh = SlackHarness(app, console, server, slack_fake, RecordingChannel(),
                          f"http://127.0.0.1:{port}{slack_config.path}", http)
        running.append((h, sh))
        return h, sh

    yield start
    await stop_all()
    await http.close()
