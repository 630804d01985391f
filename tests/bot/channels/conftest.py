"""`tg`: start the Telegram channel against the fake Bot API (`await tg()` or `await tg(mode=...)`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.bot.channels.telegram_harness import TelegramHarness, make_app
from tests.fakes.telegram_server import FakeTelegram


@pytest.fixture
async def tg(tmp_path: Path, store_url: str, model_dir: Path, nlu_model: Any, telegram_server: FakeTelegram,
             monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Callable[..., Awaitable[TelegramHarness]]]:
    started: list[TelegramHarness] = []

    async def start(**telegram: Any) -> TelegramHarness:
        app = make_app(tmp_path, store_url, model_dir, nlu_model, telegram_server, monkeypatch, **telegram)
        h = await TelegramHarness(app, telegram_server).start()
        started.append(h)
        return h

    yield start
    for h in started:
        await h.stop()
        h.app.close()
