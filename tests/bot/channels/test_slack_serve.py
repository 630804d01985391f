"""`fancare run`'s entry point for Slack, `serve(app, stop)`, in both modes against the fake."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from typing import Any

import aiohttp
from pydantic import SecretStr

from bot import inbox
from bot.channels.slack import SlackInbox, serve
from bot.channels.slack_blocks import ACTION_CLAIM
from bot.runner import channel_servers
from bot.store import Escalation
from bot.store.slack_models import SlackTicket
from tests.fakes.recording_channel import RecordingChannel, fan_message
from tests.fakes.slack_fixtures import block_action, message_event, signed_headers
from tests.fakes.slack_server import APP_TOKEN

HANDOFF = "I want to talk to a real person please"


async def until(cond: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        value = cond()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def card(app: Any) -> tuple[int, str, str] | None:
    with app.store.session() as s:
        t = s.query(SlackTicket).first()
        return (t.escalation_id, t.channel, t.ts) if t is not None and t.ts else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_serve_http_mode(app, slack_fake, slack_config):
    port = free_port()
    app.cfg.channels.slack = slack_config.model_copy(update={"port": port})
    assert [name for name, _ in channel_servers(app)] == ["slack"]
    fan = RecordingChannel()
    app.pipeline.add_channel(fan)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, stop))
    url = f"http://127.0.0.1:{port}/slack/events"
    async with aiohttp.ClientSession() as http:
        async def post(payload: dict[str, Any]) -> int:
            body = json.dumps(payload).encode()
            for _ in range(100):
                try:
                    async with http.post(url, data=body, headers=signed_headers(body)) as r:
                        return r.status
                except aiohttp.ClientConnectorError:
                    await asyncio.sleep(0.05)
            raise AssertionError("server did not start")

        assert await post({"type": "url_verification", "challenge": "c", "token": "t"}) == 200
        assert isinstance(app.pipeline.operators, SlackInbox)
        await app.pipeline.handle(fan_message(HANDOFF))
        esc, channel, ts = await until(lambda: card(app))
        assert inbox.claim(app.store, esc, "slack:UOP1").ok
        assert await post(message_event(channel, "UOP1", "hello over http", thread_ts=ts)) == 200
        await until(lambda: "hello over http" in fan.texts())
    stop.set()
    await asyncio.wait_for(task, 10)


async def test_serve_socket_mode(app, slack_fake, slack_config):
    app.cfg.channels.slack = slack_config.model_copy(update={"mode": "socket", "app_token": SecretStr(APP_TOKEN),
                                                             "signing_secret": None})
    fan = RecordingChannel()
    app.pipeline.add_channel(fan)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, stop))
    await until(lambda: slack_fake.sockets)
    await app.pipeline.handle(fan_message(HANDOFF))
    esc, channel, ts = await until(lambda: card(app))
    await slack_fake.socket_send("interactive", block_action(ACTION_CLAIM, str(esc), user="UOP1", channel=channel,
                                                             message_ts=ts))
    with app.store.session() as s:
        assert s.get(Escalation, esc).claimed_by == "slack:UOP1"
    await slack_fake.socket_send("events_api", message_event(channel, "UOP1", "hello over the socket", thread_ts=ts))
    await until(lambda: "hello over the socket" in fan.texts())
    ack = await slack_fake.socket_send("slash_commands", {
        "command": "/fancare", "text": "queue", "user_id": "UOP1", "channel_id": channel, "team_id": "T0001",
        "trigger_id": "trig-socket", "response_url": "http://127.0.0.1:9/unused", "api_app_id": "A0001"})
    assert f"#{esc} [normal]" in ack["payload"]["text"]
    stop.set()
    await asyncio.wait_for(task, 10)
