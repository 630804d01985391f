"""Fixtures for the Slack console: the fake Web API, a console served over real HTTP on port 0,
and builders that sign Events API, interactivity and slash-command requests the way Slack does."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from slack_sdk.signature import SignatureVerifier

from tests.fakes.recording_channel import RecordingChannel, fan_message
from tests.fakes.slack_server import BOT_TOKEN, FakeSlack

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
OPERATORS = ["UOP1", "UOP2"]  # allow-listed
GROUP_OPERATOR = "UGRP1"  # member of the operator user group only
CARE, CRISIS = "CCARE", "CCRISIS"
_ids = itertools.count(1)


def signed_headers(body: bytes, *, secret: str = SIGNING_SECRET, ts: int | None = None,
                   content_type: str = "application/json") -> dict[str, str]:
    """Slack's v0 signature. slack_sdk's generator is used for text bodies (so ours cannot drift
    from it); raw HMAC for bodies that are not UTF-8, which slack_sdk cannot sign."""
    stamp = str(ts if ts is not None else int(time.time()))
    try:
        sig = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body.decode("utf-8"))
    except UnicodeDecodeError:
        mac = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
        sig = "v0=" + mac.hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": sig, "Content-Type": content_type}


def message_event(channel: str, user: str, text: str, *, thread_ts: str | None, ts: str | None = None,
                  event_id: str | None = None, subtype: str | None = None, **extra: Any) -> dict[str, Any]:
    n = next(_ids)
    event: dict[str, Any] = {"type": "message", "channel": channel, "user": user, "text": text,
                             "ts": ts or f"1700001000.{n:06d}", "channel_type": "channel", "team": "T0001"}
    if thread_ts:
        event["thread_ts"] = thread_ts
    if subtype:
        event["subtype"] = subtype
    event.update(extra)
    return {"token": "legacy", "team_id": "T0001", "api_app_id": "A0001", "type": "event_callback",
            "event_id": event_id or f"Ev{n:08d}", "event_time": int(time.time()), "event": event,
            "authorizations": [{"team_id": "T0001", "user_id": "UBOT", "is_bot": True}]}


def block_action(action_id: str, value: str, *, user: str, channel: str, message_ts: str) -> dict[str, Any]:
    n = next(_ids)
    return {"type": "block_actions", "team": {"id": "T0001", "domain": "test"},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0001"},
            "api_app_id": "A0001", "token": "legacy", "trigger_id": f"trig-{n}",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
            "channel": {"id": channel, "name": "care"}, "message": {"ts": message_ts, "type": "message"},
            "response_url": "http://127.0.0.1:9/unused",
            "actions": [{"action_id": action_id, "block_id": f"fancare_esc_{value}", "value": value,
                         "type": "button", "action_ts": f"{time.time():.6f}"}]}


@dataclass
class SlackHarness:
    """A running console: `fake` is Slack's Web API, `url` our HTTP endpoint, `fan` the fan channel."""

    app: Any
    console: Any
    server: Any
    fake: FakeSlack
    fan: RecordingChannel
    url: str
    http: aiohttp.ClientSession

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        async with self.http.post(self.url, data=body, headers=headers) as r:
            return r.status, await r.text()

    async def event(self, payload: dict[str, Any], *, retry_num: int | None = None) -> int:
        body = json.dumps(payload).encode()
        headers = signed_headers(body)
        if retry_num is not None:
            headers.update({"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"})
        status, _ = await self.post(body, headers)
        await self.settle()
        return status

    async def click(self, action_id: str, esc_id: int, user: str) -> int:
        channel, ts = self.card_location(esc_id)
        payload = block_action(action_id, str(esc_id), user=user, channel=channel, message_ts=ts)
        body = urlencode({"payload": json.dumps(payload)}).encode()
        status, _ = await self.post(body, signed_headers(body, content_type="application/x-www-form-urlencoded"))
        await self.settle()
        return status

    async def command(self, text: str, user: str) -> str:
        n = next(_ids)
        body = urlencode({"token": "legacy", "team_id": "T0001", "channel_id": CARE, "user_id": user,
                          "user_name": user.lower(), "command": "/fancare", "text": text,
                          "api_app_id": "A0001", "response_url": "http://127.0.0.1:9/unused",
                          "trigger_id": f"cmd-{n}"}).encode()
        status, text_out = await self.post(body, signed_headers(body, content_type="application/x-www-form-urlencoded"))
        assert status == 200, text_out
        await self.settle()
        try:
            return str(json.loads(text_out).get("text", ""))
        except ValueError:
            return text_out

    async def reply_in_thread(self, esc_id: int, user: str, text: str, **kw: Any) -> int:
        channel, ts = self.card_location(esc_id)
        return await self.event(message_event(channel, user, text, thread_ts=ts, **kw))

    async def escalate(self, text: str = "I want to talk to a real person please", user: str = "u1") -> int:
        """A fan message that opens an escalation; returns its id once the card is in Slack."""
        from sqlalchemy import select

        from bot.store import Escalation

        await self.app.pipeline.handle(fan_message(text, user=user))
        await self.settle()
        with self.app.store.session() as s:
            esc = s.scalars(select(Escalation).order_by(Escalation.id.desc())).first()
            assert esc is not None, "the message did not escalate"
            return esc.id

    async def settle(self) -> None:
        """Let background deliveries finish, then run one more delivery pass."""
        await self.console.inbox.settle()
        await self.console.outbox.deliver()

    def card_location(self, esc_id: int) -> tuple[str, str]:
        from bot.store.slack_models import SlackTicket

        with self.app.store.session() as s:
            t = s.get(SlackTicket, esc_id)
            assert t is not None and t.ts, f"escalation #{esc_id} has no card in Slack yet"
            return t.channel, t.ts

    def thread(self, esc_id: int) -> list[str]:
        return self.fake.thread_texts(self.card_location(esc_id)[1])


@pytest.fixture
async def slack_fake() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(usergroups={"SOPS": [GROUP_OPERATOR], "SONCALL": ["UOP1"]})
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def slack_config(slack_fake: FakeSlack) -> Any:
    from bot.config import SlackConfig

    return SlackConfig(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=slack_fake.url,
                       default_channel=CARE, queue_channels={"crisis": CRISIS}, oncall_usergroup="SONCALL",
                       operator_usergroup="SOPS", operators=OPERATORS, port=0, max_attempts=4)


@pytest.fixture
async def slack(app: Any, slack_fake: FakeSlack, slack_config: Any) -> AsyncIterator[SlackHarness]:
    from bot.channels.slack import SlackConsole
    from bot.channels.slack_http import SlackHTTPServer

    fan = RecordingChannel()
    app.pipeline.add_channel(fan)
    console = SlackConsole(app, slack_config, backoff_s=0.0)
    console.install()
    server = SlackHTTPServer(console.bolt, SIGNING_SECRET, path=slack_config.path)
    port = await server.start("127.0.0.1", 0)
    async with aiohttp.ClientSession() as http:
        yield SlackHarness(app, console, server, slack_fake, fan, f"http://127.0.0.1:{port}{slack_config.path}",
                           http)
    await console.inbox.settle()
    await server.stop()
