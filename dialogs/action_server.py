"""Run custom actions on a Rasa SDK action server (`rasa_sdk`, `python -m rasa_sdk --actions actions`).

A brand that already has Rasa custom actions keeps them: fancare sends the same webhook call Rasa does
(`POST action_endpoint.url` with `next_action`, a tracker and the domain) and reads back the `slot`
events and the dispatched messages. Everything that can go wrong on the wire (the server is down, the
action is unknown or rejects, it crashes or hangs, the reply is not JSON) becomes
`ActionResult(error=...)`: the dialog engine apologises to the fan instead of crashing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable
from typing import Any

import aiohttp

from dialogs.actions import ActionCall, ActionResult, RemoteActions
from dialogs.domain import Domain

log = logging.getLogger("fancare.actions.rasa")

#: Sent as `version`; rasa-sdk only compares major.minor and merely warns on a mismatch.
RASA_VERSION = "3.10.0"

#: Keys `CollectingDispatcher.utter_message` always writes; anything else is a kwarg for the response template.
_MESSAGE_KEYS = {"text", "buttons", "elements", "custom", "template", "response", "image", "attachment",
                 "quick_replies", "json_message", "recipient_id", "channel"}


def rasa_domain(domain: Domain, slot_names: Iterable[str], *, intents: Iterable[str] = (),
                actions: Iterable[str] = ()) -> dict[str, Any]:
    """fancare's domain in the JSON shape Rasa sends to the action server (what `domain` holds in `run`).

    Slots are declared Rasa-3 style as `any` with a custom mapping: an action server reads and sets
    them, it never maps them from NLU itself.
    """
    responses: dict[str, list[dict[str, Any]]] = {}
    for name, variations in domain.responses.items():
        out = []
        for v in variations:
            item: dict[str, Any] = {"text": v.text}
            if v.buttons:
                item["buttons"] = [{"title": b.title, "payload": b.payload} for b in v.buttons]
            if v.language:
                item["metadata"] = {"language": v.language}
            out.append(item)
        responses[name] = out
    return {
        "version": "3.1",
        "config": {"store_entities_as_slots": True},
        "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True},
        "intents": list(intents),
        "entities": list(domain.entities),
        "slots": {s: {"type": "any", "influence_conversation": False, "mappings": [{"type": "custom"}]}
                  for s in slot_names},
        "responses": responses,
        "actions": list(actions),
        "forms": {},
        "e2e_actions": [],
    }


def _empty_domain() -> dict[str, Any]:
    return {"version": "3.1", "config": {}, "session_config": {}, "intents": [], "entities": [], "slots": {},
            "responses": {}, "actions": [], "forms": {}, "e2e_actions": []}


def _ranking(call: ActionCall) -> list[dict[str, Any]]:
    """Rasa's ranking starts with the message's intent; rasa_sdk's `get_intent_of_latest_message` reads it there."""
    ranking = [{"name": n, "confidence": c} for n, c in call.ranking if n != call.intent]
    return ([{"name": call.intent, "confidence": call.confidence}] if call.intent else []) + ranking


def action_call_payload(call: ActionCall, domain: dict[str, Any] | None = None) -> dict[str, Any]:
    """The webhook body Rasa sends to run `call.name` (rasa_sdk's `ActionExecutor.run` reads it)."""
    latest_message: dict[str, Any] = {
        "text": call.text,
        "intent": {"name": call.intent, "confidence": call.confidence} if call.intent else {},
        "entities": list(call.entities),
        "intent_ranking": _ranking(call),
        "metadata": {"language": call.language} if call.language else {},
    }
    tracker = {
        "sender_id": call.sender_id,
        "conversation_id": call.sender_id,
        "slots": dict(call.slots),
        "latest_message": latest_message,
        "latest_event_time": time.time(),
        "followup_action": None,
        "paused": False,
        "events": [],
        "latest_input_channel": "fancare",
        "active_loop": {"name": call.flow} if call.flow else {},
        # A custom action runs right after the fan's message was read, as in Rasa after `action_listen`.
        "latest_action": {"action_name": "action_listen"},
        "latest_action_name": "action_listen",
    }
    return {"next_action": call.name, "sender_id": call.sender_id, "tracker": tracker,
            "domain": domain if domain is not None else _empty_domain(), "version": RASA_VERSION}


def _buttons(raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, list):
        return []
    return [{"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in raw if isinstance(b, dict) and "title" in b]


def parse_message(msg: dict[str, Any]) -> dict[str, Any] | None:
    """One dispatched message -> fancare's response shape; None for what a chat channel cannot show.

    `utter_message(response="utter_x", name=...)` becomes `{"response", "values"}` (rendered from
    fancare's domain); a text message keeps its buttons. Rich content (images, attachments, custom
    JSON, carousels) has no portable form across Telegram and Slack: an image or attachment falls back
    to its URL as text, the rest is dropped.
    """
    name = msg.get("response") or msg.get("template")
    if isinstance(name, str) and name:
        values = {k: v for k, v in msg.items() if k not in _MESSAGE_KEYS}
        return {"response": name, "values": values}
    buttons = _buttons(msg.get("buttons"))
    text = msg.get("text")
    if not isinstance(text, str) or not text:
        fallback = msg.get("image") or msg.get("attachment")
        text = fallback if isinstance(fallback, str) and fallback else None
    if text is None and not buttons:
        shown = sorted(k for k, v in msg.items() if v)
        log.info("dropped an action-server message a chat cannot show (%s)", ", ".join(shown))
        return None
    return {"text": text or "", "buttons": buttons}


def parse_reply(body: Any) -> ActionResult:
    """rasa_sdk's `{"events": [...], "responses": [...]}` -> `ActionResult` (slot events and messages)."""
    if not isinstance(body, dict):
        return ActionResult(error="action server reply is not a JSON object")
    result = ActionResult()
    for event in body.get("events") or []:
        if not isinstance(event, dict):
            continue
        if event.get("event") == "slot" and isinstance(event.get("name"), str):
            result.slots[event["name"]] = event.get("value")
        else:
            log.debug("ignored action-server event %r", event.get("event"))
    for msg in body.get("responses") or []:
        if isinstance(msg, dict) and (parsed := parse_message(msg)) is not None:
            result.responses.append(parsed)
    return result


def _error_detail(body: Any) -> str:
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])[:200]
    return ""


class RasaActionServer(RemoteActions):
    """`RemoteActions` over the Rasa SDK HTTP webhook; `url` is `action_endpoint.url` as given."""

    def __init__(self, url: str, timeout_s: float = 5.0, domain: dict[str, Any] | None = None) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.domain = domain
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        """One pooled session, created on first use inside the running loop (a session is bound to its loop)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            self._session = aiohttp.ClientSession(headers={"Content-Type": "application/json"})
            self._session_loop = loop
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
        self._session_loop = None

    async def run(self, call: ActionCall) -> ActionResult:
        try:
            data = json.dumps(action_call_payload(call, self.domain), default=str)
        except (TypeError, ValueError) as exc:
            return ActionResult(error=f"action {call.name!r}: slots cannot be sent as JSON ({exc})")
        try:
            session = self._get_session()
            async with session.post(self.url, data=data,
                                    timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as resp:
                status = resp.status
                raw = await resp.read()
        except TimeoutError:
            log.warning("action %s timed out on the action server after %.1f s", call.name, self.timeout_s)
            return ActionResult(error=f"action {call.name!r} timed out after {self.timeout_s:g} s on the action server")
        except aiohttp.ClientConnectionError as exc:
            log.warning("action server %s unreachable: %s", self.url, exc)
            return ActionResult(error=f"action server {self.url} unreachable ({type(exc).__name__})")
        except aiohttp.ClientError as exc:
            return ActionResult(error=f"action {call.name!r}: request to the action server failed "
                                      f"({type(exc).__name__})")
        return self._result(call.name, status, raw)

    @staticmethod
    def _result(name: str, status: int, raw: bytes) -> ActionResult:
        try:
            body: Any = json.loads(raw) if raw.strip() else None
        except ValueError:
            if status == 200:
                return ActionResult(error=f"action {name!r}: the action server replied with invalid JSON")
            body = None
        if status == 200:
            return ActionResult() if body is None else parse_reply(body)
        detail = _error_detail(body)
        suffix = f": {detail}" if detail else ""
        if status == 404:
            return ActionResult(error=f"action {name!r} is not on the action server (404){suffix}")
        if status == 400:
            return ActionResult(error=f"action {name!r} rejected execution (400){suffix}")
        if status == 449:
            return ActionResult(error=f"action {name!r} needs the domain, which was not sent (449)")
        if status >= 500:
            return ActionResult(error=f"action {name!r} failed on the action server ({status}){suffix}")
        return ActionResult(error=f"action {name!r}: unexpected HTTP {status} from the action server{suffix}")
