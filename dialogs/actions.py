"""Custom actions: what a flow's `action:` step runs when it is not an `utter_*` response.

One registry holds fancare's own Python actions (order lookup, knowledge-base answer, CSAT) and,
when `actions.url` is set in `config.yml`, forwards every other name to a Rasa SDK action server
(`dialogs/action_server.py`), so a brand's existing `rasa-sdk` actions plug in unchanged.

An action never raises into the dialog engine: a failure or a timeout comes back as
`ActionResult(error=...)`, and the engine apologises to the fan and notes it for the operator.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("fancare.actions")


@dataclass(frozen=True)
class ActionCall:
    """What an action sees: the conversation's slots and the message that led to it."""

    name: str
    sender_id: str
    slots: dict[str, Any]
    text: str = ""
    intent: str | None = None
    confidence: float = 0.0
    entities: list[dict[str, Any]] = field(default_factory=list)
    ranking: list[tuple[str, float]] = field(default_factory=list)
    language: str | None = None
    flow: str | None = None
    display_name: str | None = None


@dataclass
class ActionResult:
    """What an action did: responses to send (by name with values, or as text) and slots to set."""

    #: each {"response": "utter_x", "values": {...}} or {"text": "...", "buttons": [{"title", "payload"}]}
    responses: list[dict[str, Any]] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def say(cls, response: str, **values: Any) -> ActionResult:
        return cls(responses=[{"response": response, "values": values}])


LocalAction = Callable[[ActionCall], "ActionResult | Awaitable[ActionResult]"]


class RemoteActions:
    """The port for actions run elsewhere (implemented by `dialogs.action_server.RasaActionServer`)."""

    async def run(self, call: ActionCall) -> ActionResult:  # pragma: no cover - interface
        raise NotImplementedError


class ActionRegistry:
    def __init__(self, remote: RemoteActions | None = None, timeout_s: float = 5.0) -> None:
        self._local: dict[str, LocalAction] = {}
        self.remote = remote
        self.timeout_s = timeout_s

    def register(self, name: str, fn: LocalAction | None = None) -> Any:
        """`registry.register("action_x", fn)` or as a decorator `@registry.register("action_x")`."""
        if fn is not None:
            self._local[name] = fn
            return fn

        def deco(f: LocalAction) -> LocalAction:
            self._local[name] = f
            return f

        return deco

    def names(self) -> set[str]:
        return set(self._local)

    def known(self, name: str) -> bool:
        """Whether `name` can run: a local action, or any name when an action server is configured."""
        return name in self._local or self.remote is not None

    async def run(self, call: ActionCall) -> ActionResult:
        fn = self._local.get(call.name)
        try:
            if fn is not None:
                if inspect.iscoroutinefunction(fn):
                    out = await asyncio.wait_for(fn(call), self.timeout_s)
                else:  # a blocking action (a shop API call) runs off the event loop, under the same timeout
                    out = await asyncio.wait_for(asyncio.to_thread(fn, call), self.timeout_s)
                if inspect.isawaitable(out):
                    out = await asyncio.wait_for(out, self.timeout_s)
                if not isinstance(out, ActionResult):
                    log.warning("action %s returned %s, not an ActionResult", call.name, type(out).__name__)
                    return ActionResult(error=f"action {call.name!r} returned {type(out).__name__}, not an ActionResult")
                return out
            if self.remote is not None:
                return await asyncio.wait_for(self.remote.run(call), self.timeout_s)
            return ActionResult(error=f"unknown action {call.name!r}")
        except TimeoutError:
            log.warning("action %s timed out after %.1f s", call.name, self.timeout_s)
            return ActionResult(error=f"action {call.name!r} timed out after {self.timeout_s:g} s")
        except Exception as exc:  # noqa: BLE001 - an action's failure is the fan's apology, not a crash
            log.warning("action %s failed: %s", call.name, type(exc).__name__)
            return ActionResult(error=f"action {call.name!r} failed: {type(exc).__name__}")
