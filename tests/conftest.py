"""Shared fixtures: a model trained once per test session on the demo data, stores on SQLite and on
the real PostgreSQL server named by FANCARE_TEST_POSTGRES_URL (`scripts/with-postgres.sh` starts one),
and a fully wired `App` as `fancare shell` builds it."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

pytest_plugins = ["tests.fakes.telegram_fixtures", "tests.fakes.slack_fixtures"]
REPO = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("FANCARE_TEST_POSTGRES_URL")


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to reach a host other than this machine."""
    real = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and address and isinstance(address[0], str):
            host = address[0]
            if host not in ("127.0.0.1", "::1", "localhost") and not host.startswith("127."):
                raise RuntimeError(f"test tried to connect to non-loopback host {host}")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo model (cascade: MiniLM + e5 heads), trained once per code and data version and cached
    in `.test-cache/` (tests/model_cache.py; `make test` trains it before pytest starts), copied here."""
    import shutil

    from tests.model_cache import trained_test_model

    out = tmp_path_factory.mktemp("models")
    shutil.copytree(trained_test_model(), out, dirs_exist_ok=True)
    return out


@pytest.fixture(scope="session")
def nlu_model(model_dir: Path) -> Any:
    from nlu.model import NLUModel

    return NLUModel.load(model_dir)


def _store_urls() -> list[Any]:
    return ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=_store_urls())
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fancare.db'}"
        return
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL tests: FANCARE_TEST_POSTGRES_URL is not set")
        pytest.skip("FANCARE_TEST_POSTGRES_URL not set (run through scripts/with-postgres.sh)")
    from bot.store import Store

    s = Store(PG_URL)
    s.drop_all()
    s.dispose()
    yield PG_URL
    s = Store(PG_URL)
    s.drop_all()
    s.dispose()


def write_config(tmp_path: Path, store_url: str, model_dir: Path, **overrides: Any) -> Path:
    data: dict[str, Any] = {
        "store": {"url": store_url},
        "nlu": {"training_data": [str(REPO / "training_data")], "model_dir": str(model_dir)},
        "knowledge_base": {"path": str(REPO / "knowledge_base" / "articles")},
        "dialogs": {"domain": str(REPO / "dialogs" / "domain.yml"), "flows": [str(REPO / "dialogs" / "flows.yml")]},
        "orders": {"demo_table": str(REPO / "dialogs" / "demo_orders.csv")},
        "channels": {"shell": {"user_id": "fan-1", "display_name": "Sam"}},
        "brand": {"languages": ["en", "es", "de", "fr", "pt", "it", "nl", "pl", "tr", "ru", "ar", "hi"]},
    }
    for section, values in overrides.items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def store(store_url: str) -> Iterator[Any]:
    """A migrated, empty store on SQLite and on PostgreSQL."""
    from bot.store import Store

    s = Store(store_url)
    s.migrate()
    yield s
    s.dispose()


@pytest.fixture
def config_path(tmp_path: Path, store_url: str, model_dir: Path) -> Path:
    return write_config(tmp_path, store_url, model_dir)


@pytest.fixture
def app(config_path: Path, nlu_model: Any) -> Iterator[Any]:
    from bot.app import App
    from bot.config import load_config

    a = App(load_config(config_path), model=nlu_model)
    yield a
    a.close()
