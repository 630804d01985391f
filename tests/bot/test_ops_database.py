"""Database outages on a real PostgreSQL server, taken away and brought back through a TCP proxy
the test controls: /readyz goes unready and ready again, the log says so once per state change (not
once per failing message), and a start while the database is down waits for it."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterator

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from bot.ops.database import DatabaseWatch, OutageLogFilter, wait_for_database
from bot.ops.metrics import OpsMetrics
from bot.ops.server import OpsServer, Readiness
from bot.store import Store
from tests.conftest import PG_URL
from tests.fakes.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres


@pytest.fixture
def proxied() -> Iterator[tuple[TcpProxy, Store]]:
    """A migrated PostgreSQL store reached through a proxy (open at first)."""
    if not PG_URL:
        pytest.skip("FANCARE_TEST_POSTGRES_URL not set (run through scripts/with-postgres.sh)")
    direct = Store(PG_URL)
    direct.drop_all()
    direct.migrate()
    direct.dispose()
    url = make_url(PG_URL)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).open()
    store = Store(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
    try:
        yield proxy, store
    finally:
        proxy.close()
        store.dispose()


def _lines(caplog: pytest.LogCaptureFixture, start: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(start)]


async def _readyz(port: int) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/readyz") as r:
        return r.status, json.loads(await r.text())


async def _until(pred: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await pred():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def test_readyz_follows_an_outage_and_the_log_says_so_once(proxied: tuple[TcpProxy, Store],
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    proxy, store = proxied
    caplog.set_level(logging.INFO)
    watch = DatabaseWatch(store, timeout_s=1.0, backoff_max_s=0.8, every_s=0.3)
    caplog.handler.addFilter(OutageLogFilter(watch))
    metrics = OpsMetrics(store, dict, lambda: "v1")
    server = OpsServer(Readiness(lambda: "v1", watch), metrics, "127.0.0.1", 0)
    await server.start()
    stop = asyncio.Event()
    pinger = asyncio.create_task(watch.run(stop))
    work = logging.getLogger("fancare.test.work")
    try:
        status, body = await _readyz(server.port)
        assert status == 200, body

        proxy.close()  # the database goes away
        errors = 0
        for i in range(20):  # every message and poll round fails on the store, as they would
            try:
                await asyncio.to_thread(store.record_inbound, channel="t", external_id=str(i), chat_id="c",
                                        user_id="u", text="hello")
            except Exception:
                errors += 1
                work.exception("processing message %s failed", i)
            await asyncio.sleep(0.05)
        assert errors == 20
        status, body = await _readyz(server.port)
        assert status == 503 and body["failed"] == ["database"], body
        assert "fancare_database_up 0.0" in (await asyncio.to_thread(metrics.render)).decode()
        assert len(_lines(caplog, "database unreachable: ")) == 1
        logged = _lines(caplog, "processing message")
        assert len(logged) <= 3, logged  # only those before the watch noticed; the rest folded
        await asyncio.sleep(1.5)  # pings go on with backoff, silently

        proxy.open()  # it comes back on the same address

        async def ready() -> bool:
            return (await _readyz(server.port))[0] == 200

        await _until(ready)
        assert len(_lines(caplog, "database unreachable: ")) == 1
        back = _lines(caplog, "database reachable again after ")
        assert len(back) == 1 and "left out of the log" in back[0], back
        assert store.record_inbound(channel="t", external_id="after", chat_id="c", user_id="u",
                                    text="hello").created
    finally:
        stop.set()
        await pinger
        await server.stop()


def test_a_start_while_the_database_is_down_waits_for_it(proxied: tuple[TcpProxy, Store],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    proxy, store = proxied
    caplog.set_level(logging.INFO)
    proxy.close()
    store.engine.dispose()
    waited: list[float] = []
    t = threading.Thread(target=lambda: waited.append(wait_for_database(store, backoff_max_s=0.5)))
    t.start()
    time.sleep(2.0)
    assert t.is_alive() and not waited  # still waiting, not exited
    proxy.open()
    t.join(15)
    assert not t.is_alive() and waited and waited[0] >= 1.9
    assert len(_lines(caplog, "database unreachable: ")) == 1
    assert len(_lines(caplog, "database reachable again after ")) == 1
    store.migrate()  # and the start goes on


def test_other_errors_are_not_waited_for(tmp_path: object) -> None:
    """A database that answers but fails otherwise is a bug to see at once, not an outage to wait out."""
    from sqlalchemy import exc as sa_exc

    store = Store("sqlite://")
    calls: list[float] = []

    def broken(*_: object, **__: object) -> None:
        raise sa_exc.ProgrammingError("SELECT 1", {}, Exception("syntax error"))

    store.engine.connect = broken  # type: ignore[assignment,method-assign]
    with pytest.raises(sa_exc.ProgrammingError):
        wait_for_database(store, sleep=calls.append)
    assert calls == []
