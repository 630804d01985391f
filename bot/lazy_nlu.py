"""`LazyNLUService`: the NLU of a receiver (`fancare run --role receiver`), loaded only if used.

A receiver records what the channels deliver and answers nothing: workers run the NLU. Loading the
model at start (e5 at once, MiniLM and torch in a background thread) cost every receiver about
400 MB of its ~620 MB and seconds of start-up for nothing (benchmarks/receiver_footprint.py). One
path of a receiver does read the NLU: an edited group message is moderated where the edit arrives
(`Pipeline.moderate_edit`). So instead of no model, a receiver carries this service, which loads
the model on its first parse, once, in a thread (the event loop goes on recording updates), and
from then on is the plain `NLUService`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from nlu.model import NLUModel, ParseResult
from nlu.service import NLUService

__all__ = ["LazyNLUService"]

log = logging.getLogger("fancare.app")


class LazyNLUService(NLUService):
    """An `NLUService` whose model is `load()`ed on first use; `loaded` tells without loading."""

    def __init__(self, load: Callable[[], NLUModel], *, on_load: Callable[[NLUModel], None] | None = None,
                 shed_backlog: int = 4) -> None:
        self._load = load
        self._on_load = on_load
        self._lock = threading.Lock()
        self._model: NLUModel | None = None
        super().__init__(None, shed_backlog)  # type: ignore[arg-type]  # the setter keeps None: not loaded

    @property  # type: ignore[override]  # an attribute of NLUService; here it loads on first read
    def model(self) -> NLUModel:
        """The model served, loaded now (blocking) when nothing needed it before."""
        return self._model if self._model is not None else self.load()

    @model.setter
    def model(self, model: NLUModel | None) -> None:  # NLUService.swap: a newer model replaces this one
        self._model = model

    @property
    def loaded(self) -> NLUModel | None:
        """The model if something loaded it; None otherwise (never loads: for /metrics, the watcher)."""
        return self._model

    def load(self) -> NLUModel:
        """Load the model once (threads asking together wait for the one load)."""
        with self._lock:
            if self._model is None:
                log.info("loading the NLU model on first use (this process was started without it)")
                model = self._load()
                if self._on_load is not None:
                    self._on_load(model)
                self._model = model
            return self._model

    async def parse(self, text: str, *, payload: bool = False) -> ParseResult:
        if self._model is None:
            await asyncio.to_thread(self.load)  # seconds: off the loop, which keeps recording updates
        return await super().parse(text, payload=payload)
