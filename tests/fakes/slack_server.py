"""A fake Slack Web API on 127.0.0.1 (port 0) for the real slack_sdk client, recording every call.

Answers like Slack: `POST /api/{method}` with form or JSON bodies, a bearer token, `{"ok": ...}`
JSON. Implements auth.test, chat.postMessage, chat.update, chat.delete, chat.postEphemeral,
usergroups.users.list, users.info, the files_upload_v2 trio (files.getUploadURLExternal, the upload
URL, files.completeUploadExternal) and apps.connections.open with a Socket Mode websocket; `fail(...)` injects 429 (with Retry-After) or 5xx answers,
`down` makes every call fail with 503 ("http") or a dropped connection ("drop").
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"


@dataclass
class Call:
    method: str
    params: dict[str, Any]


@dataclass
class Fault:
    method: str  # an API method, or "*"
    status: int
    times: int
    retry_after: int | None = None
    error: str = "internal_error"


@dataclass
class FakeSlack:
    bot_user: str = "UBOT"
    team: str = "T0001"
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    refused: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    down: str | None = None  # None | "http" | "drop"
    faults: list[Fault] = field(default_factory=list)
    url: str = ""
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # uploaded via files_upload_v2

    def __post_init__(self) -> None:
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.sockets: list[web.WebSocketResponse] = []
        self.socket_acks: list[dict[str, Any]] = []

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/api/{method}", self._handle)
        app.router.add_get("/api/{method}", self._handle)
        app.router.add_get("/socket", self._socket)
        app.router.add_post("/upload/{file_id}", self._upload)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/api/"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def fail(self, method: str, status: int = 429, times: int = 1, retry_after: int | None = None,
             error: str = "internal_error") -> None:
        self.faults.append(Fault(method, status, times, retry_after, error))

    # -- queries for assertions ------------------------------------------------------------------
    def called(self, method: str) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == method]

    def posts(self, channel: str | None = None, thread_ts: str | None = None) -> list[dict[str, Any]]:
        return [p for p in self.called("chat.postMessage")
                if (channel is None or p.get("channel") == channel)
                and (thread_ts is None or p.get("thread_ts") == thread_ts)]

    def thread_texts(self, thread_ts: str) -> list[str]:
        return [str(p.get("text")) for p in self.posts(thread_ts=thread_ts)]

    # -- the API ------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        raw = await request.read()
        if request.method == "GET":
            params: dict[str, Any] = dict(request.query)
        elif request.content_type == "application/json":
            params = json.loads(raw or b"{}")
        else:
            params = dict(parse_qsl(raw.decode()))
            for key in ("blocks", "attachments", "view"):
                if isinstance(params.get(key), str):
                    params[key] = json.loads(params[key])
        if request.method == "POST" and request.query:  # slack_sdk sends some methods' arguments as a query
            params = {**dict(request.query), **params}
        call = Call(method, params)
        if self.down == "drop":
            self.refused.append(call)
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=503)
        if self.down == "http":
            self.refused.append(call)
            return web.json_response({"ok": False, "error": "service_unavailable"}, status=503)
        for f in self.faults:
            if f.times > 0 and f.method in (method, "*"):
                f.times -= 1
                self.refused.append(call)
                if f.status == 429:
                    return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                             headers={"Retry-After": str(f.retry_after or 1)})
                return web.json_response({"ok": False, "error": f.error}, status=f.status)
        token = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if request.headers.get("Authorization") != f"Bearer {token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        self.calls.append(call)
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        return web.json_response(handler(params))

    # -- files (files_upload_v2: get an upload URL, POST the bytes there, complete) ---------------------
    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if file_id not in self.files:
            return web.Response(status=404, text="unknown upload")
        self.files[file_id]["content"] = await request.read()
        return web.Response(status=200, text="OK - " + str(len(self.files[file_id]["content"])))

    def _files_getUploadURLExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("filename") or not str(p.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{len(self.files) + 1:06d}"
        self.files[file_id] = {"filename": p["filename"], "length": int(p["length"]), "content": None}
        return {"ok": True, "file_id": file_id, "upload_url": self.url.replace("/api/", f"/upload/{file_id}")}

    def _files_completeUploadExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        items = p.get("files")
        items = json.loads(items) if isinstance(items, str) else items or []
        done = []
        for it in items:
            f = self.files.get(it.get("id"))
            if f is None or f["content"] is None or len(f["content"]) != f["length"]:
                return {"ok": False, "error": "file_not_found"}
            f.update(title=it.get("title"), channel=p.get("channel_id"), initial_comment=p.get("initial_comment"),
                     shared=True)
            done.append({"id": it.get("id"), "title": it.get("title"), "name": f["filename"]})
        return {"ok": True, "files": done}

    def _apps_connections_open(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.url.replace("http://", "ws://").replace("/api/", "/socket")}

    # -- Socket Mode: Slack pushes envelopes over a websocket, the app acks each one ---------------
    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0001"},
                            "debug_info": {"host": "fake"}})
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                self.socket_acks.append(json.loads(msg.data))
        return ws

    async def socket_send(self, kind: str, payload: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        """Push one envelope (events_api | interactive | slash_commands) and wait for the app's ack."""
        envelope_id = uuid.uuid4().hex
        await self.sockets[-1].send_json({"envelope_id": envelope_id, "type": kind, "payload": payload,
                                          "accepts_response_payload": kind != "events_api",
                                          "retry_attempt": 0, "retry_reason": ""})
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            for ack in self.socket_acks:
                if ack.get("envelope_id") == envelope_id:
                    return ack
            await asyncio.sleep(0.02)
        raise TimeoutError(f"no ack for {kind} envelope")

    def _auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": "https://fancare-test.slack.com/", "team": "Test", "user": "fancare",
                "team_id": self.team, "user_id": self.bot_user, "bot_id": "BBOT"}

    def _chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = str(p.get("channel", ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel.startswith("#"):
            channel = "C" + channel[1:].upper()
        ts = f"1700000000.{next(self._ts):06d}"
        msg = {"ts": ts, "text": p.get("text"), "blocks": p.get("blocks"), "thread_ts": p.get("thread_ts"),
               "user": self.bot_user, "bot_id": "BBOT"}
        self.messages[(channel, ts)] = msg
        return {"ok": True, "channel": channel, "ts": ts, "message": msg}

    def _chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        key = (str(p.get("channel")), str(p.get("ts")))
        if key not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        self.messages[key].update(text=p.get("text"), blocks=p.get("blocks"))
        return {"ok": True, "channel": key[0], "ts": key[1], "text": p.get("text")}

    def _chat_delete(self, p: dict[str, Any]) -> dict[str, Any]:
        key = (str(p.get("channel")), str(p.get("ts")))
        if self.messages.pop(key, None) is None:
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": key[0], "ts": key[1]}

    def _chat_postEphemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}

    def _usergroups_users_list(self, p: dict[str, Any]) -> dict[str, Any]:
        group = str(p.get("usergroup"))
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": self.usergroups[group]}

    def _views_open(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        view = p.get("view") if isinstance(p.get("view"), dict) else json.loads(str(p.get("view")))
        return {"ok": True, "view": {**view, "id": f"V{next(self._ts):06d}"}}

    def _users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(p.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}
