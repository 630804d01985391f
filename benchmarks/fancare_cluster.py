"""fancare as a user starts it, for the load and storm benchmarks: config files, `fancare run` /
`fancare worker` subprocesses, readiness through `/readyz`, CPU seconds per process and `/metrics`.

The benchmarks must measure what a brand gets, so nothing here imports the bot: the processes are
the `fancare` console script with a config file derived from the shipped `config.yml` (only the
store, the absolute paths, the Telegram channel pointed at the fake Bot API and a free ops port are
changed). Everything the benchmark process does besides (the fake server, the load generator) costs
CPU on the same machine, which is why its own CPU seconds are reported too.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

REPO = Path(__file__).resolve().parent.parent
TOKEN_ENV = "FANCARE_BENCH_TG_TOKEN"
SECRET_ENV = "FANCARE_BENCH_WEBHOOK_SECRET"
WEBHOOK_SECRET = "bench-secret-0123456789"
WEBHOOK_PATH = "/telegram"
#: Telegram's limits lifted (the fake has none): what `--lift-limits` writes into the config
LIFTED_LIMITS = {"overall_per_s": 10000.0, "chat_per_s": 100.0, "group_per_min": 10000.0}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A port free right now on 127.0.0.1 (the config needs a number before the process starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fancare_command() -> list[str]:
    """The console script of this interpreter's environment (what a user types), or the module."""
    script = Path(sys.executable).parent / "fancare"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main(sys.argv[1:]))"]


def has_worker_role(source: Path = REPO) -> bool:
    """Whether `fancare run` offers `--role` and `fancare worker` exists in that tree (issue 14)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if source != REPO:
        env["PYTHONPATH"] = str(source)
    run_help = subprocess.run([*fancare_command(), "run", "--help"], capture_output=True, text=True, env=env,
                              cwd=source, timeout=120)
    top_help = subprocess.run([*fancare_command(), "--help"], capture_output=True, text=True, env=env, cwd=source,
                              timeout=120)
    return "--role" in run_help.stdout and re.search(r"\bworker\b", top_help.stdout) is not None


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a live process (and its waited-for children) from /proc; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # after the command name: state is field 3, utime 14, stime 15, cutime 16, cstime 17 (1-based)
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLK_TCK


def postgres_cpu_seconds() -> float:
    """CPU seconds of every process named postgres on this machine (the benchmark's server)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm.startswith("postgres"):
            total += cpu_seconds(int(entry.name)) or 0.0
    return total


def parse_metrics(text: str) -> dict[str, float]:
    """Unlabelled samples of a Prometheus exposition (`name value`), plus label-summed totals."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)", line)
        if not m:
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        out[m.group(1)] = out.get(m.group(1), 0.0) + value
    return out


@dataclass
class Settings:
    """How the benchmark runs fancare: the parts of the config a run changes."""

    mode: str = "polling"  # polling | webhook
    workers: int = 0  # 0: one `fancare run`; N: one receiver + N `fancare worker`
    store_url: str = ""  # empty: a fresh SQLite file in the run's folder
    lift_limits: bool = False
    model_dir: Path = REPO / "models"
    log_level: str | None = None  # None: the shipped config's level
    #: the fancare tree to run (its code, config.yml and data): this checkout, or e.g. an export of a
    #: commit (`git archive HEAD | tar -x -C DIR`) to measure it while the checkout is being edited
    source: Path = REPO
    #: False: each run gets a copy of model_dir (a fresh deployment: caches fancare fills, such as
    #: knowledge-base embeddings, start empty); True: fancare uses model_dir itself (a restart)
    models_in_place: bool = False


@dataclass
class Proc:
    name: str
    config: Path
    ops_port: int
    popen: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    cpu_at_mark: float = 0.0
    cpu_total: float = 0.0  # CPU seconds up to the last `sample` (kept after a kill)
    cpu_before_restarts: float = 0.0
    restarts: int = 0
    killed: bool = False

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def sample(self) -> None:
        now = cpu_seconds(self.pid) if self.popen is not None else None
        if now is not None:
            self.cpu_total = self.cpu_before_restarts + now


@dataclass
class Cluster:
    """The fancare processes of one benchmark run, all from config files in `folder`."""

    settings: Settings
    fake_base_url: str
    folder: Path
    procs: list[Proc] = field(default_factory=list)
    webhook_port: int = 0
    models: Path = REPO / "models"
    _mark: float = 0.0

    # -- configs ------------------------------------------------------------------------------------
    def _config(self, name: str, ops_port: int) -> Path:
        s = self.settings
        src = s.source
        data: dict[str, Any] = yaml.safe_load((src / "config.yml").read_text())
        data["store"] = {"url": s.store_url or f"sqlite:///{self.folder / 'fancare.db'}"}
        data["nlu"]["model_dir"] = str(self.models)
        data["nlu"]["training_data"] = [str(src / p) for p in data["nlu"]["training_data"]]
        data["knowledge_base"]["path"] = str(src / data["knowledge_base"]["path"])
        data["dialogs"]["domain"] = str(src / data["dialogs"]["domain"])
        data["dialogs"]["flows"] = [str(src / p) for p in data["dialogs"].get("flows", [])]
        if data["dialogs"].get("translations"):
            data["dialogs"]["translations"] = str(src / data["dialogs"]["translations"])
        data["orders"]["demo_table"] = str(src / data["orders"]["demo_table"])
        if s.log_level:
            data.setdefault("logging", {})["level"] = s.log_level
        data.setdefault("ops", {}).update({"enabled": True, "host": "127.0.0.1", "port": ops_port})
        telegram: dict[str, Any] = {"token": "${" + TOKEN_ENV + "}", "base_url": self.fake_base_url, "mode": s.mode}
        if s.mode == "webhook":
            telegram["webhook"] = {"listen": "127.0.0.1", "port": self.webhook_port, "path": WEBHOOK_PATH,
                                   "secret_token": "${" + SECRET_ENV + "}"}
        if s.lift_limits:
            telegram["rate_limits"] = dict(LIFTED_LIMITS)
        data.setdefault("channels", {})["telegram"] = telegram
        path = self.folder / f"config-{name}.yml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True))
        return path

    def prepare(self) -> None:
        """Write one config per process (each needs its own ops port)."""
        if not (self.settings.model_dir / "LATEST").exists():
            raise SystemExit(f"no trained model in {self.settings.model_dir} (models/LATEST missing): run "
                             "`fancare train` first or pass --model-dir")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.models = (self.settings.model_dir if self.settings.models_in_place
                       else copy_models(self.settings.model_dir, self.folder / "models"))
        self.webhook_port = free_port()
        names = ["run"] if self.settings.workers == 0 else ["receiver"] + [
            f"worker-{i + 1}" for i in range(self.settings.workers)]
        for name in names:
            port = free_port()
            self.procs.append(Proc(name, self._config(name, port), port))

    # -- processes --------------------------------------------------------------------------------------
    def _argv(self, proc: Proc) -> list[str]:
        base = fancare_command()
        if proc.name == "run":
            return [*base, "run", "--config", str(proc.config)]
        if proc.name == "receiver":
            return [*base, "run", "--role", "receiver", "--config", str(proc.config)]
        return [*base, "worker", "--config", str(proc.config)]

    def _env(self) -> dict[str, str]:
        env = {**os.environ, TOKEN_ENV: _token(), SECRET_ENV: WEBHOOK_SECRET, "HF_HUB_OFFLINE": "1",
               "TRANSFORMERS_OFFLINE": "1"}
        if self.settings.source != REPO:  # its code before this checkout's editable install
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.settings.source), env.get("PYTHONPATH")]))
        return env

    def spawn(self, proc: Proc) -> None:
        env = self._env()
        proc.log = self.folder / f"{proc.name}.log"
        with open(proc.log, "ab") as log:
            proc.popen = subprocess.Popen(self._argv(proc), cwd=self.folder, env=env, stdout=log,
                                          stderr=subprocess.STDOUT)

    def upgrade(self) -> None:
        """`fancare db upgrade` before several processes start on one empty PostgreSQL: each would
        otherwise run the migrations at once, and all but one fail on `CREATE TABLE alembic_version`."""
        proc = self.procs[0]
        env = self._env()
        done = subprocess.run([*fancare_command(), "db", "upgrade", "--config", str(proc.config)], cwd=self.folder,
                              env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise SystemExit(f"fancare db upgrade failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")

    def start(self) -> float:
        """Start every process; return the monotonic time of the first start."""
        if len(self.procs) > 1:
            self.upgrade()
        started = time.monotonic()
        for proc in self.procs:
            self.spawn(proc)
        return started

    async def wait_ready(self, timeout_s: float = 300.0) -> float:
        """Until every process answers 200 on /readyz (what an orchestrator waits for); the time it took."""
        t0 = time.monotonic()
        pending = list(self.procs)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while pending:
                for proc in list(pending):
                    assert proc.popen is not None
                    if proc.popen.poll() is not None:
                        raise SystemExit(f"{proc.name} exited with {proc.popen.returncode} before it was ready; "
                                         f"its log: {proc.log}\n{_tail(proc.log)}")
                    try:
                        async with http.get(f"http://127.0.0.1:{proc.ops_port}/readyz") as r:
                            if r.status == 200:
                                pending.remove(proc)
                    except (aiohttp.ClientError, TimeoutError):
                        pass
                if time.monotonic() - t0 > timeout_s:
                    raise SystemExit(f"not ready after {timeout_s:.0f} s: {[p.name for p in pending]}; "
                                     f"logs in {self.folder}")
                await asyncio.sleep(0.1)
        return time.monotonic() - t0

    def mark(self) -> None:
        """Start counting CPU seconds for the measured part (startup is reported separately)."""
        for proc in self.procs:
            proc.sample()
            proc.cpu_at_mark = proc.cpu_total
        self._mark = _self_cpu()

    def kill(self, name: str) -> Proc:
        """SIGKILL one process (the storm's `--kill-at`)."""
        proc = next(p for p in self.procs if p.name == name)
        proc.sample()
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.popen is not None
        proc.popen.wait()
        proc.killed = True
        return proc

    def restart(self, proc: Proc) -> None:
        proc.cpu_before_restarts = proc.cpu_total
        proc.restarts += 1
        proc.killed = False
        self.spawn(proc)

    async def metrics(self) -> dict[str, dict[str, float]]:
        """`/metrics` of every live process, parsed."""
        out: dict[str, dict[str, float]] = {}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            for proc in self.procs:
                if proc.killed:
                    continue
                try:
                    async with http.get(f"http://127.0.0.1:{proc.ops_port}/metrics") as r:
                        if r.status == 200:
                            out[proc.name] = parse_metrics(await r.text())
                except (aiohttp.ClientError, TimeoutError):
                    pass
        return out

    def cpu_report(self) -> dict[str, dict[str, float]]:
        """CPU seconds per process: before the measured part (startup) and during it."""
        report: dict[str, dict[str, float]] = {}
        for proc in self.procs:
            proc.sample()
            report[proc.name] = {"startup_cpu_s": round(proc.cpu_at_mark, 1),
                                 "run_cpu_s": round(proc.cpu_total - proc.cpu_at_mark, 1)}
        report["benchmark (fake Bot API + load generator)"] = {"run_cpu_s": round(_self_cpu() - self._mark, 1)}
        return report

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM every process (a graceful stop), SIGKILL what is still there after `grace_s`."""
        for proc in self.procs:
            proc.sample()
            if proc.popen is not None and proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in self.procs:
            if proc.popen is None:
                continue
            try:
                proc.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()

    def cleanup(self, keep: bool) -> None:
        if not keep:
            shutil.rmtree(self.folder, ignore_errors=True)


def copy_models(source: Path, dest: Path) -> Path:
    """The trained model a run uses, copied as a fresh deployment gets it (LATEST, its version folder,
    the knowledge-base embeddings and moderation heads): what fancare writes there at run time (e.g.
    embeddings it had to compute) stays in the run's folder and the next run starts the same."""
    version = (source / "LATEST").read_text().strip()
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source / version, dest / version, dirs_exist_ok=True)
    for f in source.iterdir():
        if f.is_file():
            shutil.copy2(f, dest / f.name)
    return dest


def wipe_database(url: str) -> None:
    """Empty a benchmark PostgreSQL database (its public schema dropped and made again) so each run
    starts the same, whatever tables the measured tree's migrations made."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as c:
            c.execute(text("DROP SCHEMA public CASCADE"))
            c.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def postgres_url(given: str | None) -> str:
    """`--db-url`, else FANCARE_TEST_POSTGRES_URL (scripts/with-postgres.sh sets it)."""
    url = given or os.environ.get("FANCARE_TEST_POSTGRES_URL")
    if not url:
        raise SystemExit("--db postgres needs --db-url or FANCARE_TEST_POSTGRES_URL (run the benchmark through "
                         "scripts/with-postgres.sh for a throwaway server)")
    return url


def _token() -> str:
    from tests.fakes.telegram_server import TOKEN

    return TOKEN


def _self_cpu() -> float:
    t = os.times()
    return t.user + t.system


def _tail(path: Path | None, lines: int = 20) -> str:
    if path is None or not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
