"""Real processes a multi-process test starts: `fancare` commands and test worker modules.

Several tests check what only separate processes on one PostgreSQL can show (one poller at a time,
work shared by workers, timers firing once, send limits kept together). They start the processes
the same way and must clean them up the same way, whatever an assertion did meanwhile, or a
process left behind keeps polling the next test's fake Bot API. So this module holds that once:

- `FancareProcesses`: long-running processes (`fancare run`, a worker module), each logging to its
  own file, waited for through what they log, and stopped with SIGTERM (SIGKILL after a grace) on
  the way out of its `async with`;
- `run_together`: short worker processes started at once, each expected to exit 0 within a time.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from tests.conftest import REPO
from tests.fakes.telegram_server import TOKEN

#: what `fancare run` and `fancare worker` log once their bot reached the (fake) Bot API
CONNECTED = r"telegram: connected as bot id"
#: `fancare <args>` as this interpreter runs it (the console script may be missing from a bare checkout)
_FANCARE = "import sys; from bot.cli import main; sys.exit(main(sys.argv[1:]))"


def logged(log: Path, pattern: str) -> re.Match[str] | None:
    """The first match of `pattern` in a process's log so far (None: not yet, or no log yet)."""
    if not log.exists():
        return None
    return re.search(pattern, log.read_text(encoding="utf-8", errors="replace"))


class FancareProcesses:
    """The processes of one test, started from the repository with the fake Bot API's token in the
    environment (configs read it from `${FANCARE_TEST_TG_TOKEN}`) and models kept offline."""

    def __init__(self, *, grace_s: float = 30.0, **env: str) -> None:
        # here, not at the top: the harness imports bot.app, which `run_together`'s short workers
        # (importing this module through their test file) must not pay for before their common start
        from tests.bot.channels.telegram_harness import TOKEN_ENV

        self.env = {**os.environ, TOKEN_ENV: TOKEN, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **env}
        self.grace_s = grace_s
        self.procs: list[subprocess.Popen[bytes]] = []

    def fancare(self, args: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
        """`fancare ARGS` (e.g. `run --config FILE`), its output appended to `log`."""
        return self._start(["-c", _FANCARE, *args], log)

    def module(self, module: str, args: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
        """`python -m MODULE ARGS` (a test's own worker process), its output appended to `log`."""
        return self._start(["-m", module, *args], log)

    def _start(self, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen([sys.executable, *argv], cwd=REPO, env=self.env, stdout=out,
                                    stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    async def stop(self) -> None:
        """SIGTERM every process still running, then wait; SIGKILL one not gone after `grace_s`. The
        waits run off the event loop, so a fake server in this loop goes on answering a graceful stop."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                await asyncio.to_thread(p.wait, self.grace_s)
            except subprocess.TimeoutExpired:
                p.kill()
                await asyncio.to_thread(p.wait, 10)

    async def __aenter__(self) -> FancareProcesses:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()


async def run_together(module: str, args: Sequence[Sequence[str]], timeout_s: float) -> list[str]:
    """`python -m MODULE ARGS` once per entry of `args`, all at once; each must exit 0 within
    `timeout_s` (else the assertion shows the end of its stderr). Their standard outputs, in order."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [await asyncio.create_subprocess_exec(sys.executable, "-m", module, *a, cwd=REPO, env=env,
                                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for a in args]
    try:
        outs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), timeout_s)
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err.decode()[-3000:]
    return [out.decode() for out, _err in outs]
