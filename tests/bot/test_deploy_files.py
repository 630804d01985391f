"""The deployment files: docker-compose.yml, the Dockerfile and the container's config.

The compose file is parsed and checked (services, health checks, environment, ports); the
container's config is made as the image build makes it (config.yml with docker/overlay.yml on top)
and loaded by fancare's own loader with the environment compose gives it; the image is built only
where a Docker daemon answers."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import build_parser
from bot.config import load_config
from bot.ops.container_config import container_config, main, merge
from tests.conftest import REPO

COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
OVERLAY = REPO / "docker" / "overlay.yml"


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def test_compose_runs_postgres_a_receiver_and_two_workers_with_health_checks() -> None:
    services = _compose()["services"]
    assert set(services) == {"db", "receiver", "worker", "prometheus", "grafana"}
    assert services["prometheus"]["profiles"] == services["grafana"]["profiles"] == ["monitoring"]  # opt-in
    db, receiver, worker = services["db"], services["receiver"], services["worker"]
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert "${PGPASSWORD" in db["environment"]["POSTGRES_PASSWORD"]  # never a password in the file
    assert receiver["build"] == "." and worker["image"] == receiver["image"]
    assert worker["deploy"]["replicas"] == 2
    for app in (receiver, worker):
        assert app["depends_on"]["db"] == {"condition": "service_healthy"}
        env = app["environment"]
        assert env["FANCARE_STORE_URL"].startswith("postgresql+psycopg://") and "@db:5432/" in env["FANCARE_STORE_URL"]
        assert "${PGPASSWORD}" in env["FANCARE_STORE_URL"]
        assert env["TELEGRAM_BOT_TOKEN"].startswith("${TELEGRAM_BOT_TOKEN")
        assert env["HF_HUB_OFFLINE"] == "1"
        assert int(str(app["stop_grace_period"]).rstrip("s")) >= 10  # fancare's 8 s stop fits inside it
    assert any(str(p).endswith(":9108") for p in receiver["ports"])  # the ops endpoint
    # the commands are fancare's own: its parser takes them, with the roles they name
    got = {name: build_parser().parse_args(svc["command"][1:]) for name, svc in (("receiver", receiver),
                                                                                  ("worker", worker))}
    assert receiver["command"][0] == worker["command"][0] == "fancare"
    assert got["receiver"].command == "run" and got["receiver"].role == "receiver"
    assert got["worker"].command == "worker"
    assert got["receiver"].config == got["worker"].config == "container.yml"


def test_the_container_config_loads_with_compose_environment(monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "container.yml"  # the image has it next to config.yml: relative paths resolve alike
    path.write_text(container_config(REPO / "config.yml", OVERLAY))
    monkeypatch.setenv("FANCARE_STORE_URL", "postgresql+psycopg://fancare:pw@db:5432/fancare")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456789:" + "A" * 35)
    for name in ("FANCARE_TELEGRAM_MODE", "FANCARE_WEBHOOK_URL", "FANCARE_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    cfg = load_config(path)
    cfg.base_dir = REPO
    assert cfg.store.url.startswith("postgresql+psycopg://") and "@db:5432/" in cfg.store.url
    assert cfg.ops.enabled and cfg.ops.host == "0.0.0.0" and cfg.ops.port == 9108
    assert cfg.ops.stop_deadline_s < 10  # Docker's SIGKILL comes 10 s after SIGTERM
    assert cfg.logging.format == "json"
    assert cfg.channels.telegram is not None and cfg.channels.telegram.mode == "polling"
    shipped = load_config(REPO / "config.yml")
    for section in ("brand", "nlu", "knowledge_base", "dialogs", "escalation", "orders", "moderation", "privacy"):
        assert getattr(cfg, section) == getattr(shipped, section), section  # the demo as config.yml has it
    assert cfg.logging.level == shipped.logging.level  # merged key by key: only `format` changed
    assert cfg.resolve(cfg.nlu.model_dir) == REPO / "models"


def test_merge_replaces_values_and_lists_and_merges_mappings() -> None:
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 2}
    assert merge(base, {"a": {"y": [3]}, "c": {"z": 1}}) == {"a": {"x": 1, "y": [3]}, "b": 2, "c": {"z": 1}}
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": 2}  # the input is not changed


def test_the_generator_names_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(REPO / "config.yml"), str(tmp_path / "nope.yml")]) == 1
    assert "nope.yml" in capsys.readouterr().err
    (tmp_path / "list.yml").write_text("- a\n")
    assert main([str(REPO / "config.yml"), str(tmp_path / "list.yml")]) == 1
    assert "top level must be a mapping" in capsys.readouterr().err


def test_dockerfile_cpu_torch_offline_non_root_healthcheck_and_training() -> None:
    text = DOCKERFILE.read_text()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    assert "--index-url https://download.pytorch.org/whl/cpu torch==2.13.0" in text
    assert "HF_HUB_OFFLINE=1" in text and "TRANSFORMERS_OFFLINE=1" in text
    assert "fancare train --config container.yml" in text
    assert "python -m bot.ops.container_config config.yml docker/overlay.yml > container.yml" in text
    users = [ln for ln in lines if ln.startswith("USER ")]
    assert users and users[-1] != "USER root"
    health = text[text.index("HEALTHCHECK"):]
    assert "/healthz" in health.split("CMD", 1)[1].splitlines()[0]
    assert lines[-1] == 'CMD ["fancare", "run", "--config", "container.yml"]'
    # the image alone is one `fancare run` that receives and works; compose splits it into roles
    assert _compose()["services"]["receiver"]["command"][-2:] == ["--config", "container.yml"]
    ignored = (REPO / ".dockerignore").read_text().split()
    for path in (".venv", "models", ".git", "fancare.db"):
        assert path in ignored, path
    # every source folder the image copies exists (a rename would break the build)
    for ln in lines:
        if ln.startswith("COPY ") and "--from" not in ln:
            for src in ln.split()[1:-1]:
                assert (REPO / src).exists(), src
    # the dependency layer builds the project from what it has copied so far: the license files pyproject
    # names must be among them, or `pip install .` fails there
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    first_install = next(i for i, ln in enumerate(lines) if "pip install ." in ln)
    copied = {src for ln in lines[:first_install] if ln.startswith("COPY ") for src in ln.split()[1:-1]}
    assert {project["readme"], *project.get("license-files", [])} <= copied, copied


def _docker_works() -> str | None:
    if shutil.which("docker") is None:
        return "docker is not installed"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker info failed: {exc}"
    if info.returncode != 0:
        return "the Docker daemon does not answer (`docker info` failed)"
    return None


@pytest.mark.timeout(3600)
def test_the_image_builds() -> None:
    why = _docker_works()
    if why is not None:
        pytest.skip(f"image not built: {why}")
    build = subprocess.run(["docker", "build", "-t", "fancare:test", str(REPO)], capture_output=True, text=True,
                           timeout=3500)
    assert build.returncode == 0, build.stderr[-4000:]
    user = subprocess.run(["docker", "run", "--rm", "--entrypoint", "id", "fancare:test", "-u"],
                          capture_output=True, text=True, timeout=60)
    assert user.stdout.strip() not in ("", "0")


async def test_the_dashboard_and_prometheus_read_metrics_fancare_exports(app: Any) -> None:
    """Every metric the shipped Grafana dashboard queries is one a real App exports after answering a
    fan (a renamed metric would leave an empty panel), and Prometheus scrapes both roles. The app runs
    under `nlu.threads: auto` (the shipped default), whose e5 panels need it."""
    import json
    import re

    from tests.fakes.cores import auto_threads_on_a_quiet_machine
    from tests.fakes.recording_channel import RecordingChannel, fan_message

    app.pipeline.add_channel(RecordingChannel())
    with auto_threads_on_a_quiet_machine(others_busy=0.1):
        await app.pipeline.handle(fan_message("how long does shipping to Germany take?", user="dash"))
        text = app.metrics.render().decode()
    exported = {ln.split("{")[0].split(" ")[0] for ln in text.splitlines() if ln and not ln.startswith("#")}
    suffix = {"counter": "_total", "histogram": "_bucket", "info": "_info", "gauge": ""}
    exported |= {f"{fam.name}{suffix.get(fam.type, '')}"  # families with no sample yet (no moderation here)
                 for fam in app.metrics.registry.collect()}
    dashboard = json.loads((REPO / "docker" / "grafana" / "dashboards" / "fancare.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"\bfancare_[a-z0-9_]+", e)}
    assert len(used) >= 10
    # the leader gauge exists only in a process that polls Telegram (bot/ops/leader.py)
    assert used - exported == {"fancare_polling_leader"}, used - exported
    prom = yaml.safe_load((REPO / "docker" / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    assert jobs["fancare-receiver"]["static_configs"][0]["targets"] == ["receiver:9108"]
    assert jobs["fancare-worker"]["dns_sd_configs"][0] == {"names": ["worker"], "type": "A", "port": 9108}
    mounts = _compose()["services"]["grafana"]["volumes"]
    assert any(m.startswith("./docker/grafana/dashboards:") for m in mounts)
