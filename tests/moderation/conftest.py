"""Fixtures: moderation heads trained once per session on the CC0 files (for the session's NLU
encoders), and an App with the standard rule preset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, write_config


@pytest.fixture(scope="session")
def mod_heads() -> Any:
    """Heads for both encoders of the demo model (cascade: MiniLM for English, e5 for the rest)."""
    from moderation.train import load_examples, train_heads
    from nlu.encoders import get_encoder

    encoders = {e: get_encoder(e) for e in ("minilm", "e5")}
    return train_heads(load_examples(REPO / "training_data" / "moderation"), encoders)


def make_app(tmp_path: Path, store_url: str, model_dir: Path, nlu_model: Any, heads: Any, **moderation: Any) -> Any:
    from bot.app import App
    from bot.config import load_config

    settings = {"preset": "standard", **moderation}
    cfg = load_config(write_config(tmp_path, store_url, model_dir, moderation=settings))
    app = App(cfg, model=nlu_model)
    app.moderator.extractor.heads = heads
    return app


@pytest.fixture
def mod_app(tmp_path: Path, store_url: str, model_dir: Path, nlu_model: Any, mod_heads: Any) -> Iterator[Any]:
    app = make_app(tmp_path, store_url, model_dir, nlu_model, mod_heads, admins=["admin-1"],
                   allowed_links=["voltora.com"])
    yield app
    app.close()
