"""Runs the real Telegram channel (python-telegram-bot -> fake Bot API) on a fully wired App."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.app import App
from bot.channels.telegram import TelegramService
from bot.config import load_config
from bot.store import Message
from tests.conftest import write_config
from tests.fakes.telegram_server import TOKEN, FakeTelegram

TOKEN_ENV = "FANCARE_TEST_TG_TOKEN"


def telegram_config(fake: FakeTelegram, **overrides: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {"token": "${" + TOKEN_ENV + "}", "base_url": fake.base_url, "poll_timeout_s": 1,
                           "rate_limits": {"chat_per_s": 50}}
    cfg.update(overrides)
    return cfg


class TelegramHarness:
    """`start()` serves the channel (plus the outbox poller, as `fancare run` does) in this loop."""

    def __init__(self, app: App, fake: FakeTelegram) -> None:
        self.app = app
        self.fake = fake
        self.stop_event = asyncio.Event()
        self.service = TelegramService(app, app.cfg.channels.telegram)  # type: ignore[arg-type]
        self._tasks: list[asyncio.Task[Any]] = []

    async def start(self) -> TelegramHarness:
        self._tasks = [asyncio.create_task(self.service.run(self.stop_event)),
                       asyncio.create_task(self.app.pipeline.run_outbox(0.1, self.stop_event))]
        await asyncio.wait_for(self.service.ready.wait(), 10)
        return self

    async def stop(self) -> None:
        self.stop_event.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*self._tasks), 20)

    def inbound(self) -> list[Message]:
        with self.app.store.session() as s:
            return list(s.scalars(select(Message).where(Message.direction == "in").order_by(Message.id)))

    async def until_handled(self, n: int, timeout: float = 20.0) -> None:
        """Wait until `n` inbound messages are handled and the outbox is empty."""
        def done() -> bool:
            msgs = self.inbound()
            if len(msgs) < n or any(m.status != "handled" for m in msgs):
                return False
            with self.app.store.session() as s:
                return s.scalar(select(Message.id).where(Message.direction == "out",
                                                         Message.status.in_(("pending", "sending")))) is None
        await self.fake.wait_for(done, timeout)


def make_app(tmp_path: Path, store_url: str, model_dir: Path, nlu_model: Any, fake: FakeTelegram,
             monkeypatch: Any, **telegram: Any) -> App:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    path = write_config(tmp_path, store_url, model_dir, channels={"telegram": telegram_config(fake, **telegram)})
    return App(load_config(path), model=nlu_model)
