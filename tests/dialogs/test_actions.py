"""Custom actions: the local registry, fancare's built-in actions, and Rasa SDK action servers.

`RasaActionServer` is tested against a real `rasa_sdk` server (`python -m rasa_sdk`, serving
`tests/dialogs/rasa_actions/actions.py`) when an interpreter with `rasa_sdk` is available: this venv, or
the one named by `FANCARE_RASA_SDK_PYTHON` (rasa-sdk pins pydantic<2.14 and sanic pins multidict<7, so it
may have to live in a venv of its own). The same tests also run against a stand-in aiohttp server that
answers as rasa-sdk 3.x does (`rasa_sdk/endpoint.py`, `rasa_sdk/executor.py`), so they never need it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.orders import CsvOrderTable
from dialogs.action_server import RasaActionServer, action_call_payload, parse_message, rasa_domain
from dialogs.actions import ActionCall, ActionRegistry, ActionResult
from dialogs.builtin_actions import builtin_actions
from dialogs.domain import Domain
from knowledge_base.articles import Article
from knowledge_base.retriever import Match
from tests.fakes.rasa_sdk_server import free_port, rasa_sdk_python, real_rasa_sdk_server

REPO = Path(__file__).resolve().parents[2]
SLOTS = ["order_number", "serial_number", "purchase_date", "claim_accepted"]


def _call(name: str, **kw: Any) -> ActionCall:
    kw.setdefault("sender_id", "fan-1")
    kw.setdefault("slots", {})
    return ActionCall(name=name, **kw)



# -- the local registry ------------------------------------------------------------------------------

async def test_sync_and_async_local_actions() -> None:
    reg = ActionRegistry()
    reg.register("action_sync", lambda call: ActionResult(slots={"seen": call.slots["x"]}))

    @reg.register("action_async")
    async def _async(call: ActionCall) -> ActionResult:
        await asyncio.sleep(0)
        return ActionResult.say("utter_done", name=call.display_name)

    assert (await reg.run(_call("action_sync", slots={"x": 3}))).slots == {"seen": 3}
    out = await reg.run(_call("action_async", display_name="Ada"))
    assert out.error is None and out.responses == [{"response": "utter_done", "values": {"name": "Ada"}}]
    assert reg.names() == {"action_sync", "action_async"}
    assert reg.known("action_sync") and not reg.known("action_other")


async def test_failing_slow_unknown_and_malformed_actions_become_errors() -> None:
    reg = ActionRegistry(timeout_s=0.2)

    def explode(call: ActionCall) -> ActionResult:
        raise ValueError("secret detail")

    async def slow(call: ActionCall) -> ActionResult:
        await asyncio.sleep(5)
        return ActionResult()

    reg.register("action_explode", explode)
    reg.register("action_slow", slow)
    reg.register("action_bad", lambda call: {"slots": {}})  # type: ignore[arg-type, return-value]

    err = (await reg.run(_call("action_explode"))).error
    assert err is not None and "ValueError" in err and "secret" not in err
    started = time.monotonic()
    err = (await reg.run(_call("action_slow"))).error
    assert err is not None and "timed out" in err and time.monotonic() - started < 2
    err = (await reg.run(_call("action_missing"))).error
    assert err is not None and "unknown action" in err
    err = (await reg.run(_call("action_bad"))).error
    assert err is not None and "not an ActionResult" in err


# -- built-in actions --------------------------------------------------------------------------------

@pytest.fixture()
def builtins() -> ActionRegistry:
    return builtin_actions(ActionRegistry(), orders=CsvOrderTable(REPO / "dialogs" / "demo_orders.csv"))


@pytest.mark.parametrize(("typed", "slots"), [
    ("vt 482913", {"order_found": True, "order_number": "VT-482913", "product": "Voltora Buds Pro",
                   "order_status": "shipped", "eta_text": "Expected delivery: 2026-12-01."}),
    ("VT-555123", {"order_found": True, "order_number": "VT-555123", "product": "Voltora Arc",
                   "order_status": "processing", "eta_text": "Expected delivery: 2026-12-04."}),
    ("VT100200", {"order_found": True, "order_number": "VT-100200", "product": "Voltora Pulse 3",
                  "order_status": "delivered", "eta_text": ""}),
    ("VT-999999", {"order_found": False}),
    ("my order", {"order_found": False}),
    (None, {"order_found": False}),
])
async def test_action_lookup_order(builtins: ActionRegistry, typed: str | None, slots: dict[str, Any]) -> None:
    out = await builtins.run(_call("action_lookup_order", slots={"order_number": typed}))
    assert out.error is None and out.responses == []
    assert out.slots == slots


class _FakeKB:
    """Stands in for `KnowledgeBase.search` (which needs the sentence encoders)."""

    def __init__(self, score: float) -> None:
        self.score = score
        self.calls: list[tuple[str, str, str | None]] = []
        self.article = Article(id="battery-life", title="Battery life", body="# Battery\n\nUp to 30 hours. Charge daily.")

    def search(self, text: str, *, encoder: str = "e5", language: str | None = None, **_: Any) -> list[Match]:
        self.calls.append((text, encoder, language))
        return [Match(self.article, self.score, "Up to 30 hours.")]


async def test_action_kb_answer() -> None:
    kb = _FakeKB(0.8)
    reg = builtin_actions(ActionRegistry(), orders=CsvOrderTable(REPO / "dialogs" / "demo_orders.csv"),
                          kb=kb, answer_chars=20)  # type: ignore[arg-type]
    out = await reg.run(_call("action_kb_answer", text="how long does the battery last", language="en"))
    assert out.error is None
    assert out.responses == [{"response": "utter_faq_answer",
                              "values": {"answer": "Up to 30 hours.", "article": "Battery life"}}]
    assert out.slots == {"kb_article": "battery-life"}
    assert kb.calls == [("how long does the battery last", "e5", "en")]

    kb.score = 0.3
    out = await reg.run(_call("action_kb_answer", text="what is love"))
    assert out.responses == [{"response": "utter_faq_unsure", "values": {}}] and out.slots == {"kb_article": None}

    no_kb = builtin_actions(ActionRegistry(), orders=CsvOrderTable(REPO / "dialogs" / "demo_orders.csv"))
    out = await no_kb.run(_call("action_kb_answer", text="how long does the battery last"))
    assert out.responses[0]["response"] == "utter_faq_unsure"


# -- the Rasa webhook protocol -------------------------------------------------------------------------

def test_rasa_domain_shape() -> None:
    domain = Domain.load(REPO / "dialogs" / "domain.yml")
    d = rasa_domain(domain, SLOTS, intents=["order_status"], actions=["action_check_warranty"])
    assert set(d) >= {"slots", "responses", "intents", "entities", "actions"}
    assert d["slots"]["order_number"] == {"type": "any", "influence_conversation": False,
                                          "mappings": [{"type": "custom"}]}
    assert set(d["responses"]) == set(domain.responses)
    unsure = d["responses"]["utter_faq_unsure"][0]
    assert unsure["text"] == domain.responses["utter_faq_unsure"][0].text
    assert {"title": "Talk to a human", "payload": "/human_handoff"} in unsure["buttons"]
    assert d["entities"] == domain.entities and d["intents"] == ["order_status"]


def test_payload_and_message_shapes() -> None:
    call = _call("action_x", slots={"order_number": "VT-482913"}, text="where is it", intent="order_status",
                 confidence=0.91, ranking=[("order_status", 0.91), ("refund_request", 0.05)])
    p = action_call_payload(call)
    assert p["next_action"] == "action_x" and p["sender_id"] == "fan-1" and p["version"].startswith("3.")
    t = p["tracker"]
    assert t["slots"] == {"order_number": "VT-482913"} and t["followup_action"] is None and t["paused"] is False
    assert t["latest_message"]["intent"] == {"name": "order_status", "confidence": 0.91}
    assert t["latest_message"]["intent_ranking"] == [{"name": "order_status", "confidence": 0.91},
                                                     {"name": "refund_request", "confidence": 0.05}]
    ranked = action_call_payload(_call("action_x", intent="greet", confidence=0.8))["tracker"]["latest_message"]
    assert ranked["intent_ranking"] == [{"name": "greet", "confidence": 0.8}]  # rasa_sdk reads the intent here
    assert p["domain"]["responses"] == {}  # an (empty) domain is always sent, so rasa-sdk never answers 449

    assert parse_message({"template": "utter_old", "text": None, "order": "VT-1"}) == {
        "response": "utter_old", "values": {"order": "VT-1"}}
    assert parse_message({"text": None, "buttons": [{"title": "Yes", "payload": "/affirm"}]}) == {
        "text": "", "buttons": [{"title": "Yes", "payload": "/affirm"}]}
    assert parse_message({"text": None, "custom": {"x": 1}}) is None


# -- action servers: a real rasa_sdk one, and the stand-in -----------------------------------------------



@dataclass
class Server:
    kind: str
    base: str  # http://127.0.0.1:PORT

    @property
    def webhook(self) -> str:
        return self.base + "/webhook"


@pytest.fixture(scope="module")
def rasa_sdk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    python = rasa_sdk_python()
    if python is None:
        pytest.skip("rasa_sdk is not installed here (set FANCARE_RASA_SDK_PYTHON to a python that has it)")
    run_dir = tmp_path_factory.mktemp("rasa-sdk")  # no endpoints.yml there: no tracing, no plugins
    with real_rasa_sdk_server(python, "tests.dialogs.rasa_actions.actions", run_dir) as base:
        yield Server("rasa_sdk", base)


def _utter(text: str | None = None, *, buttons: list[dict[str, Any]] | None = None, response: str | None = None,
           image: str | None = None, json_message: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """What rasa-sdk's `CollectingDispatcher.utter_message` records."""
    return {"text": text, "buttons": buttons or [], "elements": [], "custom": json_message or {},
            "template": response, "response": response, "image": image, "attachment": None, **kwargs}


def _slot(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "timestamp": None, "name": name, "value": value}


async def _stand_in_webhook(request: web.Request) -> web.Response:
    """The actions of `rasa_actions/actions.py`, answered the way rasa-sdk's endpoint answers."""
    call = await request.json()
    name, tracker, domain = call["next_action"], call["tracker"], call.get("domain")
    slots, latest = tracker.get("slots", {}), tracker.get("latest_message") or {}
    if domain is None:
        return web.json_response({"error": "missing domain", "action_name": name}, status=449)
    events: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    if name == "action_check_warranty":
        if not slots.get("serial_number"):
            messages.append(_utter("I need the serial number to check the warranty."))
            events.append(_slot("claim_accepted", False))
        else:
            messages.append(_utter(response="utter_warranty_registered", serial=slots["serial_number"],
                                   purchased=slots.get("purchase_date") or ""))
            messages.append(_utter("Anything else about this device?", buttons=[
                {"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]))
            events += [_slot("claim_accepted", True), _slot("warranty_until", "2028-03-01")]
    elif name == "action_echo_tracker":
        events += [_slot("seen_sender", tracker["sender_id"]), _slot("seen_text", latest.get("text")),
                   _slot("seen_intent", (latest.get("intent_ranking") or [{}])[0].get("name")),
                   _slot("seen_order_numbers", [e["value"] for e in latest.get("entities", [])
                                                if e.get("entity") == "order_number"]),
                   _slot("seen_slot", slots.get("order_number")),
                   _slot("seen_responses", sorted(domain.get("responses", {}))),
                   _slot("seen_slot_names", sorted(domain.get("slots", {})))]
    elif name == "action_rich_messages":
        messages += [_utter(image="https://example.invalid/receipt.png"), _utter(json_message={"carousel": [1, 2]}),
                     _utter("Here is your receipt.", image="https://example.invalid/receipt.png")]
    elif name == "action_explode":
        return web.json_response({"error": "warranty database is down", "request_body": call}, status=500)
    elif name == "action_sleepy":
        await asyncio.sleep(3)
    elif name == "action_reject":
        return web.json_response({"error": "this model has no warranty", "action_name": name}, status=400)
    else:
        return web.json_response({"error": f"No registered action found for name '{name}'.", "action_name": name},
                                 status=404)
    return web.json_response({"events": events, "responses": messages})


class _StandInServer:
    """An aiohttp app on its own loop in a thread, so it outlives each test's event loop."""

    def __init__(self) -> None:
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        app = web.Application()
        app.router.add_get("/health", lambda _: web.json_response({"status": "ok"}))
        app.router.add_post("/webhook", _stand_in_webhook)
        app.router.add_post("/garbage", lambda _: web.Response(text="<html>not json</html>"))
        app.router.add_post("/teapot", lambda _: web.Response(status=418, text="short and stout"))
        self.runner = web.AppRunner(app, shutdown_timeout=0.5)

    async def _start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def __enter__(self) -> _StandInServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    async def _stop(self) -> None:
        await self.runner.cleanup()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]  # e.g. action_sleepy
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(scope="module")
def stand_in_server() -> Iterator[Server]:
    with _StandInServer() as s:
        yield Server("stand-in", f"http://127.0.0.1:{s.port}")


@pytest.fixture(params=["rasa_sdk", "stand-in"])
def server(request: pytest.FixtureRequest) -> Server:
    return request.getfixturevalue("rasa_sdk_server" if request.param == "rasa_sdk" else "stand_in_server")


@pytest.fixture()
async def remote(server: Server) -> Any:
    domain = rasa_domain(Domain.load(REPO / "dialogs" / "domain.yml"), SLOTS)
    client = RasaActionServer(server.webhook, timeout_s=0.5, domain=domain)
    yield client
    await client.close()


async def test_slots_and_responses_come_back(remote: RasaActionServer) -> None:
    out = await remote.run(_call("action_check_warranty", slots={"serial_number": "AB12345678",
                                                                 "purchase_date": "2026-03-01"}))
    assert out.error is None
    assert out.slots == {"claim_accepted": True, "warranty_until": "2028-03-01"}
    assert out.responses == [
        {"response": "utter_warranty_registered", "values": {"serial": "AB12345678", "purchased": "2026-03-01"}},
        {"text": "Anything else about this device?",
         "buttons": [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]},
    ]
    session = remote._session
    out = await remote.run(_call("action_check_warranty"))
    assert remote._session is session  # one pooled session, not one per call
    assert out.slots == {"claim_accepted": False}
    assert out.responses == [{"text": "I need the serial number to check the warranty.", "buttons": []}]


async def test_the_action_server_reads_tracker_and_domain(remote: RasaActionServer) -> None:
    out = await remote.run(_call("action_echo_tracker", sender_id="tg:42", slots={"order_number": "VT-482913"},
                                 text="where is VT-482913?", intent="order_status", confidence=0.93,
                                 entities=[{"entity": "order_number", "value": "VT-482913", "start": 9, "end": 18}]))
    assert out.error is None
    assert out.slots["seen_sender"] == "tg:42" and out.slots["seen_text"] == "where is VT-482913?"
    assert out.slots["seen_intent"] == "order_status" and out.slots["seen_order_numbers"] == ["VT-482913"]
    assert out.slots["seen_slot"] == "VT-482913"
    assert "utter_faq_unsure" in out.slots["seen_responses"] and out.slots["seen_slot_names"] == sorted(SLOTS)


async def test_rich_messages_fall_back_to_text(remote: RasaActionServer) -> None:
    out = await remote.run(_call("action_rich_messages"))
    assert out.error is None
    assert out.responses == [{"text": "https://example.invalid/receipt.png", "buttons": []},
                             {"text": "Here is your receipt.", "buttons": []}]


@pytest.mark.parametrize(("action", "expected"), [
    ("action_does_not_exist", "not on the action server (404)"),
    ("action_explode", "failed on the action server (500): warranty database is down"),
    ("action_reject", "rejected execution (400): this model has no warranty"),
    ("action_sleepy", "timed out after 0.5 s"),
])
async def test_action_server_failures_become_errors(remote: RasaActionServer, action: str, expected: str) -> None:
    started = time.monotonic()
    out = await remote.run(_call(action))
    assert out.error is not None and expected in out.error, out.error
    assert out.responses == [] and out.slots == {}
    assert time.monotonic() - started < 2


async def test_without_a_domain_the_server_still_runs_actions(server: Server) -> None:
    client = RasaActionServer(server.webhook, timeout_s=2.0)
    try:
        out = await client.run(_call("action_echo_tracker"))
    finally:
        await client.close()
    assert out.error is None and out.slots["seen_responses"] == []


async def test_registry_runs_local_actions_here_and_the_rest_remotely(server: Server) -> None:
    client = RasaActionServer(server.webhook, timeout_s=2.0)
    reg = builtin_actions(ActionRegistry(remote=client, timeout_s=3.0),
                          orders=CsvOrderTable(REPO / "dialogs" / "demo_orders.csv"))
    try:
        assert reg.known("action_check_warranty")
        local = await reg.run(_call("action_lookup_order", slots={"order_number": "VT-482913"}))
        remote = await reg.run(_call("action_check_warranty", slots={"serial_number": "AB12345678"}))
    finally:
        await client.close()
    assert local.slots["order_found"] is True
    assert remote.slots["claim_accepted"] is True


async def test_invalid_json_unreachable_and_odd_statuses(stand_in_server: Server) -> None:
    for path, expected in (("/garbage", "invalid JSON"), ("/teapot", "unexpected HTTP 418")):
        client = RasaActionServer(stand_in_server.base + path)
        try:
            out = await client.run(_call("action_x"))
        finally:
            await client.close()
        assert out.error is not None and expected in out.error, out.error

    url = f"http://127.0.0.1:{free_port()}/webhook"  # nothing listens there
    client = RasaActionServer(url, timeout_s=2.0)
    try:
        out = await client.run(_call("action_x"))
    finally:
        await client.close()
    assert out.error is not None and "unreachable" in out.error and url in out.error
