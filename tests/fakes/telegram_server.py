"""A fake Telegram Bot API server on 127.0.0.1 (port 0) for driving the real python-telegram-bot.

It speaks the Bot API's HTTP shape (`POST /bot{token}/{method}`, form or JSON parameters,
`{"ok": true, "result": ...}` / `{"ok": false, "error_code": ..., "parameters": {...}}`) and keeps
enough state to be honest: getUpdates with real offset semantics (an offset confirms every update
below it; unconfirmed updates are delivered again) and long polling; per-chat message ids.
Every call is recorded (`calls`), and faults can be injected per method: an HTTP error
(429 with retry_after, 5xx) or a hang (the request never answers).

Methods: getMe, deleteWebhook, setWebhook, getWebhookInfo, getUpdates, sendMessage, sendChatAction,
editMessageText, answerCallbackQuery, getChatMember (members in `admins` are administrators, users in
`non_members` have left, in `kicked` are banned), sendPoll / stopPoll (native polls, `polls` by id;
`poll_answer()` builds the update a vote produces), and for moderation deleteMessage,
restrictChatMember, banChatMember, unbanChatMember, banChatSenderChat / unbanChatSenderChat, getChat
(`linked_chats`); pinChatMessage / unpinChatMessage (`pinned` per
chat). Others answer 404 like Telegram does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456789:AAFakeTokenForTests_abcdefghijklmno"
BOT_ID = 4242
BOT_USERNAME = "voltora_bot"
CHANNEL_BOT_ID = 136817688  # Telegram's "Channel_Bot" author of messages sent as a channel
ANON_ADMIN_ID = 1087968824  # "GroupAnonymousBot"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int = 200
    at: float = field(default_factory=time.monotonic)


@dataclass
class Fault:
    status: int = 500  # 0 = hang
    retry_after: int | None = None
    description: str = "Internal Server Error"


class FakeTelegram:
    """State and behaviour of the fake; `start()` binds it to a free port."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.me = {"id": BOT_ID, "is_bot": True, "first_name": "Voltora", "username": BOT_USERNAME,
                   "can_join_groups": True, "can_read_all_group_messages": True,
                   "supports_inline_queries": False}
        self.calls: list[Call] = []
        self.pinned: defaultdict[int, set[int]] = defaultdict(set)
        self.updates: list[dict[str, Any]] = []
        self.confirmed_offset = 0
        self.webhook: dict[str, Any] = {"url": ""}
        self._update_ids = itertools.count(1000)
        self._msg_ids: dict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._faults: dict[str, list[Fault]] = defaultdict(list)
        self._changed = asyncio.Condition()
        self._hung = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.on_call: list[Callable[[Call], None]] = []
        self.hung_deliveries = 0
        self.admins: set[int] = set()  # user ids getChatMember reports as "administrator"
        self.non_members: set[int] = set()  # user ids getChatMember reports as "left"
        self.kicked: set[int] = set()  # user ids getChatMember reports as "kicked" (banned)
        self.linked_chats: dict[int, int] = {}  # group id -> its linked (brand) channel id, for getChat
        self.banned_sender_chats: defaultdict[int, set[int]] = defaultdict(set)  # banChatSenderChat per chat
        self.polls: dict[str, dict[str, Any]] = {}  # native polls by Telegram poll id
        self._poll_ids = itertools.count(5_000_000_000)
        # getUpdates callers: Telegram serves one at a time (a second gets Conflict); these count how many
        # long-polls were in flight at once, so a test of several processes can prove only one polled
        self.polls_in_flight = 0
        self.max_polls_in_flight = 0

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> FakeTelegram:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        self._hung.set()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """What to give PTB as `base_url` (it appends the token)."""
        return f"{self.url}/bot"

    # -- fault injection ---------------------------------------------------------------------
    def fail(self, method: str, status: int = 500, *, times: int = 1, retry_after: int | None = None,
             description: str | None = None) -> None:
        desc = description or (f"Too Many Requests: retry after {retry_after}" if status == 429
                               else "Bad Gateway" if status == 502 else "Internal Server Error")
        self._faults[method].extend(Fault(status, retry_after, desc) for _ in range(times))

    def hang_after_delivery(self, method: str) -> None:
        """The next call of `method` takes effect (the fan gets the message) but never answers: the
        one window where a crash can repeat a send."""
        self._faults[method].append(Fault(-1))

    def hang(self, method: str, *, times: int = 1) -> None:
        """The next `times` calls of `method` never answer (until the server stops)."""
        self._faults[method].extend(Fault(0) for _ in range(times))

    # -- updates the "fans" send --------------------------------------------------------------
    def push(self, update: dict[str, Any], update_id: int | None = None) -> int:
        uid = update_id if update_id is not None else next(self._update_ids)
        self.updates.append({"update_id": uid, **update})
        self.updates.sort(key=lambda u: u["update_id"])
        asyncio.get_running_loop().create_task(self._notify())
        return uid

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def next_message_id(self, chat_id: int) -> int:
        return next(self._msg_ids[chat_id])

    # -- assertions helpers ---------------------------------------------------------------------
    def calls_of(self, method: str, ok_only: bool = True) -> list[Call]:
        return [c for c in self.calls if c.method == method and (c.status == 200 or not ok_only)]

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Successful sendMessage parameters (chat_id as int), in arrival order."""
        return [c.params for c in self.calls_of("sendMessage")
                if chat_id is None or int(c.params["chat_id"]) == chat_id]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [p["text"] for p in self.sent(chat_id)]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s; calls: "
                                     f"{[(c.method, c.status) for c in self.calls][-20:]}")
            await asyncio.sleep(0.02)

    # -- HTTP ------------------------------------------------------------------------------------
    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            data = await request.json()
            return dict(data or {})
        form = await request.post()
        out: dict[str, Any] = {}
        for k, v in form.items():
            v = str(v)
            if k in ("reply_markup", "reply_parameters", "allowed_updates", "entities", "options"):
                try:
                    out[k] = json.loads(v)
                    continue
                except ValueError:
                    pass
            out[k] = v
        out.update({k: v for k, v in request.query.items() if k not in out})
        return out

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        if request.match_info["token"] != self.token:
            self.calls.append(Call(method, params, 401))
            return _error(401, "Unauthorized")
        faults = self._faults.get(method)
        if faults:
            fault = faults.pop(0)
            if fault.status == -1:
                await self._dispatch(method, params)
                self.hung_deliveries += 1
                await self._hung.wait()
                return _error(500, "hung")
            call = Call(method, params, fault.status or 599)
            self.calls.append(call)
            if fault.status == 0:
                await self._hung.wait()
                return _error(500, "hung")
            return _error(fault.status, fault.description,
                          {"retry_after": fault.retry_after} if fault.retry_after is not None else None)
        return await self._dispatch(method, params)

    async def _dispatch(self, method: str, params: dict[str, Any]) -> web.Response:
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            self.calls.append(Call(method, params, 404))
            return _error(404, "Not Found: method not found")
        if method == "getUpdates" and self.webhook.get("url"):
            self.calls.append(Call(method, params, 409))
            return _error(409, "Conflict: can't use getUpdates method while webhook is active")
        call = Call(method, params)
        if method != "getUpdates":
            self.calls.append(call)
        result = await handler(params)
        if method == "getUpdates":
            self.calls.append(call)
        for cb in self.on_call:
            cb(call)
        return web.json_response({"ok": True, "result": result})

    async def _m_getMe(self, p: dict[str, Any]) -> Any:
        return self.me

    async def _m_deleteWebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = {"url": ""}
        return True

    async def _m_setWebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = {"url": p.get("url", ""), "secret_token": p.get("secret_token"),
                        "allowed_updates": p.get("allowed_updates")}
        return True

    async def _m_getWebhookInfo(self, p: dict[str, Any]) -> Any:
        return {"url": self.webhook.get("url", ""), "has_custom_certificate": False, "pending_update_count": 0}

    async def _m_getUpdates(self, p: dict[str, Any]) -> Any:
        self.polls_in_flight += 1
        self.max_polls_in_flight = max(self.max_polls_in_flight, self.polls_in_flight)
        try:
            return await self._get_updates(p)
        finally:
            self.polls_in_flight -= 1  # also when the caller went away (the handler is cancelled)

    async def _get_updates(self, p: dict[str, Any]) -> Any:
        offset = int(p.get("offset") or 0)
        limit = int(p.get("limit") or 100)
        timeout = float(p.get("timeout") or 0)
        if offset > 0:
            self.confirmed_offset = max(self.confirmed_offset, offset)
            self.updates = [u for u in self.updates if u["update_id"] >= self.confirmed_offset]
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not self.updates and time.monotonic() < deadline:
                try:
                    await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
                except TimeoutError:
                    break
        return self.updates[:limit]

    async def _m_sendMessage(self, p: dict[str, Any]) -> Any:
        chat_id = int(p["chat_id"])
        msg: dict[str, Any] = {"message_id": self.next_message_id(chat_id), "date": int(time.time()),
                               "chat": _chat(chat_id), "from": self.me, "text": p["text"]}
        if p.get("reply_markup"):
            msg["reply_markup"] = p["reply_markup"]
        return msg

    async def _m_sendChatAction(self, p: dict[str, Any]) -> Any:
        return True

    async def _m_editMessageText(self, p: dict[str, Any]) -> Any:
        chat_id = int(p["chat_id"])
        return {"message_id": int(p["message_id"]), "date": int(time.time()), "chat": _chat(chat_id),
                "from": self.me, "text": p["text"], "edit_date": int(time.time())}

    async def _m_answerCallbackQuery(self, p: dict[str, Any]) -> Any:
        return True

    async def _m_getChatMember(self, p: dict[str, Any]) -> Any:
        if int(p["user_id"]) in self.admins:
            return {"status": "administrator", "user": {"id": int(p["user_id"]), "is_bot": False, "first_name": "Ad"},
                    "can_be_edited": False, "is_anonymous": False, "can_manage_chat": True,
                    "can_delete_messages": True, "can_manage_video_chats": True, "can_restrict_members": True,
                    "can_promote_members": False, "can_change_info": True, "can_invite_users": True,
                    "can_post_stories": False, "can_edit_stories": False, "can_delete_stories": False}
        uid = int(p["user_id"])
        u = {"id": uid, "is_bot": False, "first_name": "Fan"}
        if uid in self.kicked:
            return {"status": "kicked", "user": u, "until_date": 0}
        if uid in self.non_members:
            return {"status": "left", "user": u}
        return {"status": "member", "user": u}

    async def _m_sendPoll(self, p: dict[str, Any]) -> Any:
        chat_id = int(p["chat_id"])
        opts = p["options"] if isinstance(p["options"], list) else json.loads(p["options"])
        texts = [o["text"] if isinstance(o, dict) else str(o) for o in opts]
        poll = {"id": str(next(self._poll_ids)), "question": p["question"],
                "options": [{"text": t, "voter_count": 0, "persistent_id": str(i)} for i, t in enumerate(texts)],
                "total_voter_count": 0, "is_closed": False, "is_anonymous": _flag(p, "is_anonymous", True),
                "type": "regular", "allows_multiple_answers": _flag(p, "allows_multiple_answers", False),
                "allows_revoting": _flag(p, "allows_revoting", True), "members_only": _flag(p, "members_only", False)}
        self.polls[poll["id"]] = poll
        mid = self.next_message_id(chat_id)
        poll["_at"] = (chat_id, mid)  # where it was posted (stopPoll names the message)
        shown = {k: v for k, v in poll.items() if not k.startswith("_")}
        return {"message_id": mid, "date": int(time.time()), "chat": _chat(chat_id), "from": self.me, "poll": shown}

    async def _m_stopPoll(self, p: dict[str, Any]) -> Any:
        at = (int(p["chat_id"]), int(p["message_id"]))
        poll = next(x for x in self.polls.values() if x["_at"] == at)
        poll["is_closed"] = True
        return {k: v for k, v in poll.items() if not k.startswith("_")}

    # moderation (moderation/telegram_actions.py)
    async def _m_deleteMessage(self, p: dict[str, Any]) -> Any:
        return True

    async def _m_restrictChatMember(self, p: dict[str, Any]) -> Any:
        return True

    async def _m_banChatMember(self, p: dict[str, Any]) -> Any:
        return True

    async def _m_unbanChatMember(self, p: dict[str, Any]) -> Any:
        return True

    async def _m_banChatSenderChat(self, p: dict[str, Any]) -> Any:
        self.banned_sender_chats[int(p["chat_id"])].add(int(p["sender_chat_id"]))
        return True

    async def _m_unbanChatSenderChat(self, p: dict[str, Any]) -> Any:
        self.banned_sender_chats[int(p["chat_id"])].discard(int(p["sender_chat_id"]))
        return True

    async def _m_getChat(self, p: dict[str, Any]) -> Any:
        chat_id = int(p["chat_id"])
        chat = {**_chat(chat_id), "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                        "unique_gifts": False, "premium_subscription": False,
                                        "gifts_from_channels": False}}
        if chat_id in self.linked_chats:
            chat["linked_chat_id"] = self.linked_chats[chat_id]
        return chat

    # the crisis playbook's holding statement (moderation/playbook.py)
    async def _m_pinChatMessage(self, p: dict[str, Any]) -> Any:
        self.pinned[int(p["chat_id"])].add(int(p["message_id"]))
        return True

    async def _m_unpinChatMessage(self, p: dict[str, Any]) -> Any:
        self.pinned[int(p["chat_id"])].discard(int(p["message_id"]))
        return True


def _error(code: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)


def _flag(p: dict[str, Any], name: str, default: bool) -> bool:
    value = p.get(name)
    return default if value is None else str(value).lower() in ("true", "1")


def _chat(chat_id: int, title: str = "Voltora fans") -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "Fan"}
    return {"id": chat_id, "type": "supergroup", "title": title}


# -- update factories (what Telegram would send) -------------------------------------------------
_now = lambda: int(time.time())  # noqa: E731


def user(user_id: int, first_name: str = "Sam", language: str = "en") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language}


def message(fake: FakeTelegram, chat_id: int, text: str, *, from_user: dict[str, Any] | None = None,
            entities: list[dict[str, Any]] | None = None, reply_to: dict[str, Any] | None = None,
            sender_chat: dict[str, Any] | None = None, thread_id: int | None = None,
            **extra: Any) -> dict[str, Any]:
    """A `Message` object as it appears inside an update (message ids per chat, like Telegram)."""
    msg: dict[str, Any] = {"message_id": fake.next_message_id(chat_id), "date": _now(), "chat": _chat(chat_id),
                           "text": text}
    if from_user is not None:
        msg["from"] = from_user
    if entities:
        msg["entities"] = entities
    if reply_to is not None:
        msg["reply_to_message"] = reply_to
    if sender_chat is not None:
        msg["sender_chat"] = sender_chat
    if thread_id is not None:
        msg["message_thread_id"] = thread_id
    msg.update(extra)
    return msg


def poll_answer(poll_id: str, from_user: dict[str, Any], option_ids: list[int]) -> dict[str, Any]:
    """The update Telegram sends when a fan votes in (or retracts from: `[]`) a non-anonymous poll."""
    return {"poll_answer": {"poll_id": poll_id, "user": from_user, "option_ids": option_ids,
                            "option_persistent_ids": [str(i) for i in option_ids]}}


def mention(text: str, handle: str = "@" + BOT_USERNAME) -> list[dict[str, Any]]:
    """Entities for the first occurrence of `handle` in `text` (offsets in UTF-16 units)."""
    i = text.index(handle)
    return [{"type": "mention", "offset": len(text[:i].encode("utf-16-le")) // 2, "length": len(handle)}]
