"""A real `python -m rasa_sdk` action server for tests, in its own process group on 127.0.0.1.

rasa-sdk pins packages fancare's venv does not want, so it usually lives in a venv of its own
(`scripts/ensure-rasa-sdk.sh`, named by FANCARE_RASA_SDK_PYTHON); without one the tests that need
it skip and the stand-in servers of each test cover the protocol.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rasa_sdk_python() -> str | None:
    """A Python that can run `-m rasa_sdk`: this one, or FANCARE_RASA_SDK_PYTHON (empty: none)."""
    if importlib.util.find_spec("rasa_sdk") is not None:
        return sys.executable
    other = os.environ.get("FANCARE_RASA_SDK_PYTHON")
    return other if other and Path(other).exists() else None


def healthy(port: int) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through an HTTP proxy
    try:
        with opener.open(f"http://127.0.0.1:{port}/health", timeout=0.5) as r:
            return bool(r.status == 200)
    except OSError:
        return False


@contextmanager
def real_rasa_sdk_server(python: str, actions_module: str, run_dir: Path,
                         env: dict[str, str] | None = None) -> Iterator[str]:
    """Start `python -m rasa_sdk --actions MODULE`; yield its base URL (http://127.0.0.1:PORT)."""
    port = free_port()
    full_env = {**os.environ, "SANIC_HOST": "127.0.0.1", "PYTHONPATH": str(REPO), "ACTION_SERVER_SANIC_WORKERS": "1",
                **(env or {})}
    log_path = run_dir / "server.log"
    with log_path.open("wb") as log:
        # its own process group: sanic serves from a worker process, and both must go at the end
        proc = subprocess.Popen([python, "-m", "rasa_sdk", "--actions", actions_module, "--port", str(port)],
                                cwd=run_dir, env=full_env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not healthy(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"rasa_sdk server did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
