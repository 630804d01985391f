"""Hot reload: a new models/LATEST is served without a restart and without dropping a message, and
response edits apply without retraining (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

from sqlalchemy import func, select

from bot.app import App
from bot.config import load_config
from bot.model_watch import ModelWatcher
from bot.store import Message, NLUResult
from bot.training import promote
from tests.conftest import REPO, write_config
from tests.fakes.recording_channel import RecordingChannel, fan_message


def _new_version(root: Path, old: str, new: str) -> None:
    """A second, complete model directory (a copy with its own version), then LATEST moves to it,
    the way `fancare train` publishes a model."""
    shutil.copytree(root / old, root / new)
    meta = json.loads((root / new / "meta.json").read_text())
    meta["version"] = new
    (root / new / "meta.json").write_text(json.dumps(meta))
    promote(root, new)


async def test_new_model_is_swapped_in_while_messages_flow(store_url, model_dir, nlu_model, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(model_dir, models)
    domain = tmp_path / "domain.yml"
    shutil.copy(REPO / "dialogs" / "domain.yml", domain)
    cfg = load_config(write_config(tmp_path, store_url, models, nlu={"model_dir": str(models)},
                                   dialogs={"domain": str(domain)}))
    app = App(cfg, model=nlu_model)
    try:
        ch = RecordingChannel()
        app.pipeline.add_channel(ch)
        watcher = ModelWatcher(app)
        stop = asyncio.Event()
        task = asyncio.create_task(watcher.run(stop, interval_s=0.02))
        old = app.model.version
        sent = 0

        async def talk(n: int) -> None:
            nonlocal sent
            for i in range(n):
                await app.pipeline.handle(fan_message(["hi", "thanks!", "where is my order?"][i % 3], user=f"u{i}"))
                sent += 1

        chatter = asyncio.create_task(talk(30))
        while sent < 5:
            await asyncio.sleep(0.01)
        _new_version(models, old, old + "-next")
        await chatter
        for _ in range(200):
            if app.model.version == old + "-next":
                break
            await asyncio.sleep(0.02)
        assert app.model.version == old + "-next" and watcher.reloads == 1
        await app.pipeline.handle(fan_message("hello", user="after"))

        with app.store.session() as s:
            handled = s.scalar(select(func.count()).select_from(Message).where(
                Message.direction == "in", Message.status == "handled"))
            versions = list(s.scalars(select(NLUResult.model_version).order_by(NLUResult.id)))
        assert handled == 31 and len(versions) == 31 and len(ch.sent) >= 31  # nothing dropped
        assert versions[0] == old and versions[-1] == old + "-next"
        assert versions == sorted(versions, key=lambda v: v != old)  # old, then new: never back

        # A response edit applies without retraining; a broken edit keeps the previous responses.
        question = "how long does shipping to Germany take?"
        await app.pipeline.handle(fan_message(question, user="k1"))
        assert "From our help article" in ch.texts()[-1]
        domain.write_text(domain.read_text().replace("From our help article", "Source article"))
        await watcher.check()
        await app.pipeline.handle(fan_message(question, user="k2"))
        assert "Source article" in ch.texts()[-1]
        domain.write_text("responses: [not, a, mapping]\n")
        await watcher.check()
        await app.pipeline.handle(fan_message(question, user="k3"))
        assert "Source article" in ch.texts()[-1]
        stop.set()
        await task
    finally:
        app.close()


async def test_a_model_that_fails_to_load_is_not_swapped(store_url, model_dir, nlu_model, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(model_dir, models)
    cfg = load_config(write_config(tmp_path, store_url, models, nlu={"model_dir": str(models)}))
    app = App(cfg, model=nlu_model)
    try:
        watcher = ModelWatcher(app)
        (models / "broken").mkdir()
        promote(models, "broken")
        assert await watcher.check() is False
        assert app.model.version == nlu_model.version
        app.pipeline.add_channel(RecordingChannel())
        res = await app.pipeline.handle(fan_message("hello"))
        assert res.replies == 1
    finally:
        app.close()
