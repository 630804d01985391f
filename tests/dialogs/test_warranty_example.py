"""The README's warranty-claim example (examples/warranty/), end to end, with no Python change in fancare.

A config adds the example's training data, flows file and an action server (`actions.url`); an NLU model
is trained with the new intent; `App` is built from that config and the example's own conversation tests
(`examples/warranty/conversations.yml`) run through `run_conversations`, as `fancare test conversations`
runs them. The action server is the real `python -m rasa_sdk --actions examples.warranty.actions` when an
interpreter with `rasa_sdk` is available (this venv, or `FANCARE_RASA_SDK_PYTHON`; `make test` sets it up
with scripts/ensure-rasa-sdk.sh), else a stand-in aiohttp server that runs the same `actions.py` with
`rasa_sdk` stubbed out. Both get WARRANTY_TODAY, so "within two years" does not depend on the day it runs.

Training the cascade model (MiniLM + e5 heads) with the extra intent takes about a minute on 2 cores; it
is cached in `.test-cache/` under a key of the training data, the knowledge base and the NLU code.
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from aiohttp import web

from tests.conftest import REPO, write_config
from tests.fakes.rasa_sdk_server import free_port, rasa_sdk_python, real_rasa_sdk_server

EXAMPLE = REPO / "examples" / "warranty"
TODAY = "2026-12-01"  # the day the example's conversations were written (see conversations.yml)
QUEUES = {"crisis": {"priority": "urgent"}, "complaints": {"priority": "normal"}, "refunds": {"priority": "normal"},
          "general": {"priority": "normal"}, "warranty": {"priority": "normal"}}


def _example_config(tmp_path: Path, model_dir: Path, actions_url: str) -> Path:
    """What the README tells a brand to add to config.yml, on top of the test config of tests/conftest.py."""
    return write_config(
        tmp_path, f"sqlite:///{tmp_path / 'fancare.db'}", model_dir,
        nlu={"training_data": [str(REPO / "training_data"), str(EXAMPLE / "nlu.yml")]},
        dialogs={"flows": [str(REPO / "dialogs" / "flows.yml"), str(EXAMPLE / "flows.yml")]},
        actions={"url": actions_url},
        escalation={"queues": QUEUES})


# -- the model, trained with the example's intent ---------------------------------------------------------

@pytest.fixture(scope="module")
def warranty_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default encoder (cascade) trained on the demo data plus the example's intent, as `fancare
    train` would; cached like the demo model (tests/model_cache.py, trained by `make test` up front)."""
    from nlu.model import NLUModel
    from tests.model_cache import WARRANTY, trained_test_model

    out = tmp_path_factory.mktemp("warranty-models")
    shutil.copytree(trained_test_model(WARRANTY, "warranty-model"), out, dirs_exist_ok=True)
    assert "warranty_claim" in NLUModel.load(out).meta["intents"]
    return out


# -- the brand's action server ------------------------------------------------------------------------------




def _real_server(python: str, run_dir: Path) -> Iterator[str]:
    """`python -m rasa_sdk --actions examples.warranty.actions` in its own process group."""
    with real_rasa_sdk_server(python, "examples.warranty.actions", run_dir, env={"WARRANTY_TODAY": TODAY}) as base:
        yield base + "/webhook"


def _load_actions_without_rasa_sdk() -> types.ModuleType:
    """examples/warranty/actions.py with just enough of `rasa_sdk` stubbed for it to import and run."""
    sdk, events, executor = (types.ModuleType(n) for n in ("rasa_sdk", "rasa_sdk.events", "rasa_sdk.executor"))
    sdk.Action = sdk.Tracker = executor.CollectingDispatcher = object  # type: ignore[attr-defined]
    events.SlotSet = lambda key, value=None: {"event": "slot", "timestamp": None, "name": key,  # type: ignore[attr-defined]
                                              "value": value}
    spec = importlib.util.spec_from_file_location("warranty_actions_stand_in", EXAMPLE / "actions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with mock.patch.dict(sys.modules, {"rasa_sdk": sdk, "rasa_sdk.events": events, "rasa_sdk.executor": executor}):
        spec.loader.exec_module(module)  # sys.modules is restored after: nothing else sees the stubs
    return module


class _StandIn:
    """An aiohttp server answering rasa-sdk's webhook by running the example's actions (own loop and thread)."""

    def __init__(self) -> None:
        actions = _load_actions_without_rasa_sdk()
        self.actions = {a.name(): a for a in (actions.ActionCheckWarranty(),)}
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        app = web.Application()
        app.router.add_get("/health", self.health)
        app.router.add_post("/webhook", self.webhook)
        self.runner = web.AppRunner(app)

    @staticmethod
    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def webhook(self, request: web.Request) -> web.Response:
        call = await request.json()
        action = self.actions.get(call["next_action"])
        if action is None:
            return web.json_response({"error": f"No registered action found for name '{call['next_action']}'.",
                                      "action_name": call["next_action"]}, status=404)
        slots = call["tracker"].get("slots") or {}
        tracker = types.SimpleNamespace(get_slot=slots.get, slots=slots)
        events = action.run(None, tracker, call.get("domain") or {})
        return web.json_response({"events": events, "responses": []})

    async def _start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def __enter__(self) -> str:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return f"http://127.0.0.1:{self.port}/webhook"

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(kind, webhook URL): the real rasa_sdk server when there is one, else the stand-in."""
    python = rasa_sdk_python()
    if python is not None:
        yield from (("rasa_sdk", url) for url in _real_server(python, tmp_path_factory.mktemp("rasa-sdk")))
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WARRANTY_TODAY", TODAY)  # the stand-in runs the actions in this process
        with _StandIn() as url:
            yield "stand-in", url


# -- the tests ------------------------------------------------------------------------------------------------

def test_data_validate_accepts_the_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`fancare data validate` checks the extra intent's examples and the flow against domain + flows responses."""
    from bot.cli import main

    cfg = _example_config(tmp_path, tmp_path / "models", "http://127.0.0.1:5055/webhook")
    assert main(["data", "validate", "--config", str(cfg)]) == 0, capsys.readouterr().err
    out = capsys.readouterr()
    assert "warranty" not in out.err and "0 error(s)" in out.out

    # the checks are real: without an action server the brand's action is unknown
    cfg = _example_config(tmp_path, tmp_path / "models", "")
    assert main(["data", "validate", "--config", str(cfg)]) == 2
    assert "unknown action 'action_check_warranty'" in capsys.readouterr().err


@pytest.mark.timeout(600)  # training the model with the extra intent, when it is not cached yet
async def test_warranty_conversations_pass(tmp_path: Path, warranty_model_dir: Path,
                                           action_server: tuple[str, str],
                                           record_property: Any) -> None:
    from bot.app import App
    from bot.config import load_config
    from bot.conversation_tests import format_failure, load_conversations, run_conversations

    kind, url = action_server
    record_property("action_server", kind)
    app = App(load_config(_example_config(tmp_path, warranty_model_dir, url)))
    try:
        assert "warranty_claim" in app.flows.flows and "utter_warranty_escalated" in app.domain.responses
        cases = load_conversations([EXAMPLE / "conversations.yml"])
        assert len(cases) >= 6
        results = await run_conversations(app, cases, workdir=tmp_path)
    finally:
        if app.actions.remote is not None:
            await app.actions.remote.close()  # type: ignore[attr-defined]
        app.close()
    failed = [r for r in results if not r.passed]
    assert not failed, f"action server: {kind}\n" + "\n\n".join(format_failure(r) for r in failed)
    assert len(results) == len(cases)
