"""The processes of one demo run: PostgreSQL, Redis, the fake AI providers and the service.

PostgreSQL and Redis are installed with apt-get when they are missing (as root). A demo
left running (``--keep-running``) is recorded in a state file that ``stop_kept`` reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from amas_devstack import REPO_ROOT
from amas_devstack.demo import say
from amas_devstack.ports import free_port
from amas_devstack.processes import ServerError, pid_alive, stop_pid
from amas_devstack.providers import FakeProviderProcess
from amas_devstack.servers import (
    PostgresServer,
    RedisServer,
    find_postgres_bin,
    find_redis_server,
    remove_moved_data,
)
from amas_service.settings import api_key_env_var

DEFAULT_RUN_DIR = REPO_ROOT / "run" / "demo"
STATE_FILE = "demo-state.json"
PROVIDERS = (  # fallback order, latency ms
    ("openai", 40),
    ("anthropic", 60),
    ("mistral_ai", 50),
)


# --- installing what is missing ------------------------------------------------------------------
def ensure_servers(allow_install: bool) -> None:
    missing = [
        pkg
        for pkg, found in (("postgresql", find_postgres_bin()), ("redis-server", find_redis_server()))
        if found is None
    ]
    if not missing:
        return
    command = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if not allow_install or os.geteuid() != 0 or shutil.which("apt-get") is None:
        sys.exit(f"demo: {', '.join(missing)} missing; install with: sudo {' '.join(command)}")
    say(f"installing {', '.join(missing)} with apt-get (their system services are not started) ...")
    policy = Path("/usr/sbin/policy-rc.d")
    own_policy = not policy.exists()
    if own_policy:  # keeps Debian from starting the packaged services: we run our own
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    finally:
        if own_policy:
            policy.unlink(missing_ok=True)
    if find_postgres_bin() is None or find_redis_server() is None:
        sys.exit("demo: the installation did not provide PostgreSQL and Redis binaries")


# --- the processes of one run --------------------------------------------------------------------
@dataclass
class Run:
    run_dir: Path
    service_port: int
    postgres: PostgresServer
    redis: RedisServer
    providers: dict[str, FakeProviderProcess]
    service: subprocess.Popen[bytes] | None = None
    service_log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.service_log = self.run_dir / "service.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.service_port}"

    def pids(self) -> dict[str, list[Any]]:
        """name → [pid, stop signal, a word of its command line] for ``--stop``."""
        found: dict[str, list[Any]] = {}
        if self.service is not None:
            found["service"] = [self.service.pid, int(signal.SIGTERM), "amas_service"]
        for name, provider in self.providers.items():
            if provider.process.pid:
                found[f"provider {name}"] = [provider.process.pid, int(signal.SIGTERM), "fake_provider"]
        if self.redis.process.pid:
            found["redis"] = [self.redis.process.pid, int(signal.SIGTERM), "redis"]
        if self.postgres.process.pid:
            found["postgresql"] = [self.postgres.process.pid, int(signal.SIGINT), "postgres"]
        return found

    def stop(self) -> None:
        if self.service is not None and self.service.poll() is None:
            stop_pid(self.service.pid, signal.SIGTERM, timeout=20)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.service.wait(timeout=1)
        for provider in self.providers.values():
            provider.stop()
        self.redis.stop()
        self.postgres.stop()
        (self.run_dir / STATE_FILE).unlink(missing_ok=True)


def start_everything(run_dir: Path, workers: int, latency_scale: float) -> Run:
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    run_dir.chmod(0o755)  # PostgreSQL runs as the postgres user when we are root
    keys = {name: f"demo-{name}-key-{secrets.token_hex(12)}" for name, _ in PROVIDERS}
    run = Run(
        run_dir=run_dir,
        service_port=free_port(),
        postgres=PostgresServer(run_dir / "postgresql"),
        redis=RedisServer(run_dir / "redis"),
        providers={
            name: FakeProviderProcess(
                run_dir,
                name,
                latency_ms=latency * latency_scale,
                error_rate=0.01,
                api_key=keys[name],
                seed=seed,
                max_context_tokens=4096,
            )
            for seed, (name, latency) in enumerate(PROVIDERS)
        },
    )
    try:
        say(f"starting PostgreSQL, Redis and {len(PROVIDERS)} fake AI providers in {run_dir} ...")
        run.postgres.start()
        run.redis.start()
        for provider in run.providers.values():
            provider.start()
        say(f"starting the AMAS service on {run.url} with {workers} workers ...")
        run.service = spawn_service(run, run.service_port, workers, run.service_log)
        wait_healthy(run)
    except BaseException:
        run.stop()
        raise
    return run


def service_env(run: Run, **extra: str) -> dict[str, str]:
    """The service's environment: this process's, plus the servers of ``run`` and ``extra``."""
    return {
        **os.environ,
        "AMAS_DATABASE_URL": run.postgres.dsn,
        "AMAS_REDIS_URL": run.redis.url,
        "AMAS_PROVIDERS": ",".join(f"{n}={p.base_url}" for n, p in run.providers.items()),
        "AMAS_USERS": ",".join(f"user{i:02d}:password-{i:02d}" for i in range(1, 26)),
        "AMAS_BREAKER_FAILURE_THRESHOLD": "5",
        "AMAS_BREAKER_RESET_SECONDS": "3",
        "AMAS_ENVIRONMENT": os.environ.get("AMAS_ENVIRONMENT", "demo"),
        **{api_key_env_var(n): p.api_key for n, p in run.providers.items()},
        **extra,
    }


def spawn_service(run: Run, port: int, workers: int, log_path: Path, **env: str) -> subprocess.Popen[bytes]:
    """Starts ``python -m amas_service`` on 127.0.0.1:``port``, its output appended to ``log_path``."""
    log = open(log_path, "ab")  # noqa: SIM115 (the child holds it; closed below)
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "amas_service", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=service_env(run, **env),
            cwd=REPO_ROOT,
            start_new_session=True,
        )  # fmt: skip
    finally:
        log.close()


def wait_healthy(run: Run, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert run.service is not None
        if run.service.poll() is not None:
            tail = "\n".join(run.service_log.read_text(errors="replace").splitlines()[-20:])
            raise ServerError(f"the service exited with {run.service.returncode}:\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(run.url + "/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise ServerError(f"the service was not healthy within {timeout:.0f} s; see {run.service_log}")


# --- stop a kept-running demo -------------------------------------------------------------------
def stop_kept(run_dir: Path) -> int:
    state_path = run_dir / STATE_FILE
    if not state_path.exists():
        say(f"nothing to stop: no {state_path}")
        return 0
    state = json.loads(state_path.read_text())
    for name, (pid, sig, word) in state["pids"].items():
        if pid_alive(pid, word):  # still the process we started, not a reused pid
            say(f"stopping {name} (pid {pid})")
            stop_pid(pid, sig, timeout=20)
    remove_moved_data(run_dir / "postgresql")
    state_path.unlink()
    return 0
