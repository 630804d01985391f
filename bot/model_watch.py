"""Hot reload: the running assistant notices a new `models/LATEST` and swaps the model in.

`fancare train` (or `fancare review` + train on another machine, copied over) moves LATEST only
after the new model directory is complete, with an atomic rename, so the watcher either sees the
old pointer or a finished model. The model is loaded off the event loop; `NLUService.swap` then
serves it from the next message on, while messages already being parsed finish on the old one:
nothing is dropped or parsed twice. A model that fails to load is logged and the old one stays.

Response and knowledge-base edits need no retraining: the watcher reloads the domain file when it
changes (a broken edit is logged and the previous responses stay), and the knowledge base already
re-reads its articles on its own (`KnowledgeBase.reload_if_changed`).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from bot.app import App, load_model, model_root
from dialogs.domain import Domain

log = logging.getLogger("fancare.reload")


def _latest(app: App) -> str | None:
    p = model_root(app.cfg) / "LATEST"
    try:
        return p.read_text().strip() or None
    except OSError:
        return None


def _stamp(path: Path) -> tuple[float, int] | None:
    """Modification time and size of a file (None when it cannot be read)."""
    try:
        st = path.stat()
        return (st.st_mtime, st.st_size)
    except OSError:
        return None


class ModelWatcher:
    """Polls LATEST and the domain file; `check()` does one round."""

    def __init__(self, app: App) -> None:
        self.app = app
        loaded = app.loaded_model
        self.version = _latest(app) or (loaded.version if loaded is not None else None)
        self.domain_path = app.cfg.resolve(app.cfg.dialogs.domain)
        self.domain_stamp = _stamp(self.domain_path)
        self.reloads = 0

    async def check(self) -> bool:
        """Reload whatever changed; True when the model was swapped."""
        swapped = False
        latest = _latest(self.app)
        serving = self.app.loaded_model  # a receiver's model not loaded yet: its first use reads LATEST
        if latest and latest != self.version and serving is not None and latest != serving.version:
            try:
                model = await asyncio.to_thread(load_model, self.app.cfg)
            except Exception:  # noqa: BLE001 - keep serving the old model
                log.exception("could not load model %s; still serving %s", latest, serving.version)
            else:  # the swap itself happens on the event loop, between two messages' parse calls
                self.app.model = model  # NLUService.swap
                self.app.refresh_languages()  # the new model's table of the brand's words
                self.reloads += 1
                swapped = True
                log.info("serving model %s", model.version)
            self.version = latest
        await self._reload_content()
        return swapped

    async def _reload_content(self) -> None:
        stamp = _stamp(self.domain_path)
        if stamp != self.domain_stamp:
            self.domain_stamp = stamp
            try:
                domain = await asyncio.to_thread(Domain.load, self.domain_path)
                self.app.domain = self.app.policy.domain = self.app.pipeline.domain = domain
                log.info("responses reloaded from %s", self.domain_path.name)
            except Exception:  # noqa: BLE001 - a broken edit must not take the assistant down
                log.exception("domain file has errors; keeping the previous responses")

    async def run(self, stop: asyncio.Event, interval_s: float = 2.0) -> None:
        while not stop.is_set():
            try:
                await self.check()
            except Exception:  # noqa: BLE001 - the watcher never stops the assistant
                log.exception("reload check failed")
            try:
                await asyncio.wait_for(stop.wait(), interval_s)
            except TimeoutError:
                pass


async def watch(app: App, stop: asyncio.Event, interval_s: float = 2.0) -> None:
    """What `fancare run` and `fancare shell` start next to the channels."""
    await ModelWatcher(app).run(stop, interval_s)
