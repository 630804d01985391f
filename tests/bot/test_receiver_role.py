"""A receiver (`fancare run --role receiver`) runs no NLU, so it loads none (bot/lazy_nlu.py).

A real receiver process is started with a models folder that holds no trained NLU model at all
(only moderation heads): it must start, be ready (its /readyz asks no model), and record what the
fake Bot API delivers, with torch never mapped into it and its RSS far below the ~620 MB a receiver
that loaded the model had (benchmarks/receiver_footprint.py). Before, it exited: "no trained model
... run `fancare train`". Nor are sklearn and scipy (~95 MB) mapped: the NLU and moderation modules
import them where a model is trained or unpickled, and a receiver unpickles the heads with its model.
In one process: a receiver's App loads the model (and the heads) only when something reads it (a
group edit to moderate), the reload watcher does not load it, and such an App cannot be run as
another role.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.store import Message, Store
from moderation.heads import SignalHead
from moderation.normalize import normalize
from moderation.signals import HEADS_FILE, ModerationHeads
from tests.bot.channels.telegram_harness import telegram_config
from tests.bot.processes import CONNECTED, FancareProcesses, logged
from tests.conftest import write_config
from tests.fakes.telegram_server import FakeTelegram, message, user

#: a receiver that loaded the NLU model measured ~620 MB; one that did not, ~240 MB; one that imports
#: no sklearn/scipy either, ~138 MB (benchmarks/receiver_footprint.py, same machine)
MAX_RECEIVER_RSS_MB = 200


def _ops_port(log: Path) -> int | None:
    m = logged(log, r"ops endpoint listening on http://127\.0\.0\.1:(\d+)")
    return int(m.group(1)) if m else None


def _inbound(store: Store) -> list[tuple[str, str]]:
    with store.session() as s:
        return [(r.text, r.status) for r in s.execute(
            select(Message.text, Message.status).where(Message.direction == "in").order_by(Message.id))]


def _save_heads(folder: Path) -> None:
    """Small real moderation heads (TF-IDF only, a few examples) as `fancare train` saves them: loading
    them unpickles sklearn's vectorisers and logistic regressions."""
    rows = [("you are an idiot", "yes"), ("what an idiot move", "yes"), ("shut up you moron", "yes"),
            ("thanks for the help", "no"), ("where is my order", "no"), ("love the new colours", "no")]
    head = SignalHead("offensive").fit([normalize(t) for t, _ in rows], None, [y for _, y in rows])
    ModerationHeads(by_encoder={"minilm": {"offensive": head}, "e5": {"offensive": head}}).save(folder / HEADS_FILE)


def _rss_mb(pid: int) -> float:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


@pytest.mark.timeout(600)
async def test_a_receiver_process_records_updates_without_any_nlu_model(
        telegram_server: FakeTelegram, tmp_path: Path, store_url: str) -> None:
    fake = telegram_server
    no_model = tmp_path / "models"  # nothing trained here: a receiver that loaded the model could not start
    no_model.mkdir()
    _save_heads(no_model)
    config = write_config(tmp_path, store_url, no_model, ops={"host": "127.0.0.1", "port": 0},
                          channels={"telegram": telegram_config(fake, typing_indicator=False)})
    log = tmp_path / "receiver.log"
    store = Store(store_url)
    try:
        async with FancareProcesses(OMP_NUM_THREADS="1") as processes:
            proc = processes.fancare(["run", "--role", "receiver", "--config", str(config)], log)

            def up() -> bool:
                assert proc.poll() is None, f"the receiver exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
                return _ops_port(log) is not None and logged(log, CONNECTED) is not None

            await fake.wait_for(up, timeout=300)
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{_ops_port(log)}/readyz") as r:
                    ready = json.loads(await r.text())
                    assert r.status == 200, ready
                assert "model" not in ready["checks"], ready  # a receiver is ready without one
                assert ready["checks"]["channel:telegram"]["ok"] and ready["checks"]["database"]["ok"]

                texts = ["hi there", "where is my order?", "do you ship to Canada?"]
                for i, text in enumerate(texts):
                    chat = 6100 + i
                    fake.push({"message": message(fake, chat, text, from_user=user(chat))})
                await fake.wait_for(lambda: len(_inbound(store)) == len(texts), timeout=60)
                assert _inbound(store) == [(t, "received") for t in texts]  # recorded, for a worker to answer
                assert fake.texts() == []  # and not answered here

                async with http.get(f"http://127.0.0.1:{_ops_port(log)}/metrics") as r:
                    assert 'fancare_model_info{version="none"}' in await r.text()
            maps = Path(f"/proc/{proc.pid}/maps").read_text()
            assert "libtorch" not in maps, "torch was loaded into the receiver"
            assert "/sklearn/" not in maps and "/scipy/" not in maps, "sklearn or scipy was loaded into the receiver"
            rss = _rss_mb(proc.pid)
            assert rss < MAX_RECEIVER_RSS_MB, f"receiver RSS {rss:.0f} MB: something loaded a model or an encoder"
    finally:
        store.dispose()
    assert proc.returncode == 0, log.read_text()[-3000:]


@pytest.mark.timeout(900)
async def test_a_receiver_app_loads_the_model_only_when_a_group_edit_needs_it(
        tmp_path: Path, model_dir: Path) -> None:
    from bot.app import App
    from bot.config import load_config
    from bot.model_watch import ModelWatcher
    from bot.runner import run

    models = tmp_path / "models"  # the trained model, and moderation heads beside it
    models.mkdir()
    for item in model_dir.iterdir():
        (models / item.name).symlink_to(item)
    _save_heads(models)
    cfg = load_config(write_config(tmp_path, f"sqlite:///{tmp_path / 'f.db'}", models,
                                   moderation={"preset": "standard"}))
    app = App(cfg, role="receiver")
    try:
        assert app.loaded_model is None and app.moderator.extractor.heads is None
        await ModelWatcher(app).check()  # the reload watcher asks, and loads nothing
        assert app.loaded_model is None
        with pytest.raises(ValueError, match="needs an App built for it"):
            await run(app, asyncio.Event(), role="worker")
        assert app.loaded_model is None

        rec = app.store.record_inbound(channel="telegram", external_id="-100:7", chat_id="-100", user_id="42",
                                       text="nice photo", payload={"chat_type": "supergroup", "message_id": 7})
        verdict = await app.pipeline.moderate_edit(
            rec.message_id, "great deals, DM me on telegram for crypto giveaway http://bit.ly/x",
            {"chat_type": "supergroup", "message_id": 7}, {"channel": "telegram", "chat_id": "-100", "user_id": "42"})
        model: Any = app.loaded_model
        assert model is not None and model.version == (model_dir / "LATEST").read_text().strip()
        assert app.moderator.extractor.heads is not None  # loaded with the model, for this edit
        assert verdict.rule == "scam-link", verdict  # judged as where the message itself arrived
        assert app.kb.encoder_paths == model.encoder_paths
    finally:
        app.close()
