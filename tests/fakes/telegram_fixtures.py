"""pytest fixtures for the fake Telegram Bot API (registered in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.telegram_server import FakeTelegram


@pytest.fixture
async def telegram_server() -> AsyncIterator[FakeTelegram]:
    """A fresh fake Bot API on 127.0.0.1:<free port>; `.base_url` is what PTB's `base_url` wants."""
    fake = await FakeTelegram().start()
    try:
        yield fake
    finally:
        await fake.stop()
