"""PostgreSQL, Redis and fake AI providers as local processes, for the integration tests and the demo.

Each server binds 127.0.0.1 on its own port, keeps its data in its own folder and is
stopped by :meth:`stop` (SIGINT/SIGTERM, then SIGKILL). Run as root, PostgreSQL runs as
the ``postgres`` OS user (it refuses root), in a data folder that user owns.
Passwords are passed in files, never on command lines (``ps`` shows those).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = [
    "FakeProviderProcess",
    "PostgresServer",
    "RedisServer",
    "ServerError",
    "find_postgres_bin",
    "find_redis_server",
    "free_port",
    "stop_pid",
]


class ServerError(RuntimeError):
    """A local server could not be started; the message says why and where its log is."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries: ``pg_config --bindir``, else /usr/lib/postgresql/*/bin."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
            candidates.append(Path(out.stdout.strip()))
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(versions)
    for path in candidates:
        if (path / "initdb").exists() and (path / "postgres").exists():
            return path
    return None


def find_redis_server() -> Path | None:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    return Path(found) if found else None


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan's zombie may wait long for its reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def stop_pid(pid: int, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Signal one process (that we started), wait for it, SIGKILL it if it does not go."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return
        if not _alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


@dataclass
class _Process:
    """A child process with its log file."""

    name: str
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    stop_signal: int = signal.SIGTERM
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def spawn(
        self,
        argv: Sequence[str],
        *,
        user: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stdout_pipe: bool = False,
    ) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        self.popen = subprocess.Popen(
            list(argv),
            stdout=subprocess.PIPE if stdout_pipe else self._log,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            user=user,
            start_new_session=True,  # survives the demo's exit with --keep-running; Ctrl-C reaches only us
        )

    def check_running(self) -> None:
        if self.popen is not None and self.popen.poll() is not None:
            raise ServerError(
                f"{self.name} exited with {self.popen.returncode}; see {self.log_path}:\n{self.tail()}"
            )

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen is not None and self.popen.poll() is None:
            stop_pid(self.popen.pid, self.stop_signal, timeout)
        if self.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=1)
            if self.popen.stdout:
                self.popen.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None


def _wait(what: str, ready: Any, process: _Process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        process.check_running()
        if ready():
            return
        if time.monotonic() > deadline:
            raise ServerError(
                f"{what} not ready after {timeout:.0f} s; see {process.log_path}:\n{process.tail()}"
            )
        time.sleep(0.1)


class PostgresServer:
    """A throwaway PostgreSQL cluster: ``initdb`` into ``base/data``, ``postgres`` on 127.0.0.1:``port``."""

    def __init__(
        self,
        base: Path,
        *,
        port: int | None = None,
        user: str = "amas",
        database: str = "amas",
        password: str | None = None,
        durable: bool = False,
    ) -> None:
        self.base = Path(base)
        self.data = self.base / "data"
        self.port = port or free_port()
        self.user, self.database = user, database
        self.password = password or "pg-" + secrets.token_urlsafe(18)
        self.durable = durable
        self.bin = find_postgres_bin()
        self.process = _Process("postgresql", self.base / "postgresql.log", stop_signal=signal.SIGINT)
        self._os_user = "postgres" if os.geteuid() == 0 else None

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def _tool(self, name: str) -> str:
        if self.bin is None:
            raise ServerError("PostgreSQL server binaries not found (apt-get install postgresql)")
        return str(self.bin / name)

    def _chown(self, path: Path) -> None:
        if self._os_user:
            entry = pwd.getpwnam(self._os_user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        result = subprocess.run(
            list(argv),
            user=self._os_user,
            cwd=self.base,
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            check=False,
        )
        if result.returncode != 0:
            raise ServerError(
                f"{Path(argv[0]).name} failed ({result.returncode}): {result.stderr.strip()[-800:]}"
            )

    def start(self, timeout: float = 60.0) -> PostgresServer:
        if self.bin is None:
            raise ServerError("PostgreSQL server binaries not found (apt-get install postgresql)")
        if self._os_user and not _user_exists(self._os_user):
            raise ServerError("running as root, but there is no 'postgres' OS user to run PostgreSQL as")
        self.base.mkdir(parents=True, exist_ok=True)
        self._chown(self.base)
        if not (self.data / "PG_VERSION").exists():
            pwfile = self.base / "pwfile"
            pwfile.write_text(self.password + "\n")
            pwfile.chmod(0o600)
            self._chown(pwfile)
            try:
                self._run(
                    [
                        self._tool("initdb"),
                        "-D",
                        str(self.data),
                        "-U",
                        self.user,
                        f"--pwfile={pwfile}",
                        "-A",
                        "scram-sha-256",
                        "-E",
                        "UTF8",
                        "--locale=C",
                        "--no-sync",
                    ]
                )
            finally:
                pwfile.unlink(missing_ok=True)
        argv = [
            self._tool("postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-h",
            "127.0.0.1",
            "-k",
            str(self.base),
            "-c",
            "max_connections=60",
            "-c",
            "shared_buffers=32MB",
        ]
        if not self.durable:
            argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        self.process.spawn(argv, user=self._os_user, cwd=self.base)
        self._chown(self.process.log_path)
        _wait("PostgreSQL", lambda: self._ready(), self.process, timeout)
        self._create_database()
        return self

    def _ready(self) -> bool:
        result = subprocess.run(
            [self._tool("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    def _connection_args(self) -> list[str]:
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", self.user]

    def _create_database(self) -> None:
        query = f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"
        if self.psql(query, database="postgres") != "1":
            createdb = [self._tool("createdb"), *self._connection_args(), self.database]
            self._run(createdb, {"PGPASSWORD": self.password})

    def psql(self, sql: str, database: str | None = None) -> str:
        """Runs one statement with psql (on ``database``, default ours); its unaligned output."""
        result = subprocess.run(
            [self._tool("psql"), *self._connection_args(), "-d", database or self.database,
             "-v", "ON_ERROR_STOP=1", "-tAc", sql],
            capture_output=True,
            text=True,
            env={**os.environ, "PGPASSWORD": self.password},
            check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise ServerError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def stop(self) -> None:
        self.process.stop(timeout=20)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class RedisServer:
    """A Redis without persistence, password-protected, on 127.0.0.1:``port``."""

    def __init__(self, base: Path, *, port: int | None = None, password: str | None = None) -> None:
        self.base = Path(base)
        self.port = port or free_port()
        self.password = password or "redis-" + secrets.token_urlsafe(18)
        self.binary = find_redis_server()
        self.process = _Process("redis", self.base / "redis.log")

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0) -> RedisServer:
        if self.binary is None:
            raise ServerError("redis-server not found (apt-get install redis-server)")
        self.base.mkdir(parents=True, exist_ok=True)
        conf = self.base / "redis.conf"
        conf.write_text(
            f'port {self.port}\nbind 127.0.0.1\nprotected-mode yes\nsave ""\nappendonly no\n'
            f"dir {self.base}\ndaemonize no\nrequirepass {self.password}\n"
        )
        conf.chmod(0o600)
        self.process.spawn([str(self.binary), str(conf)], cwd=self.base)
        _wait("Redis", lambda: self.command("PING") == "+PONG", self.process, timeout)
        return self

    def command(self, *args: str) -> str | None:
        """One inline command after AUTH; the first reply line, or None if Redis is not up."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(f"AUTH {self.password}\r\n{' '.join(args)}\r\n".encode())
                data = b""
                while data.count(b"\r\n") < 2:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
        except OSError:
            return None
        lines = data.split(b"\r\n")
        return lines[1].decode() if len(lines) > 1 else None

    def stop(self) -> None:
        self.process.stop()


class FakeProviderProcess:
    """``python -m amas_service.fake_provider`` on a free port, with its admin API."""

    def __init__(
        self,
        base: Path,
        name: str,
        *,
        latency_ms: float = 20,
        error_rate: float = 0.0,
        api_key: str | None = None,
        seed: int = 0,
        max_context_tokens: int = 8192,
    ) -> None:
        self.name = name
        self.latency_ms, self.error_rate, self.api_key, self.seed = latency_ms, error_rate, api_key, seed
        self.max_context_tokens = max_context_tokens
        self.process = _Process(f"fake provider {name}", Path(base) / f"provider-{name}.log")
        self.base_url = ""

    def start(self, timeout: float = 20.0) -> FakeProviderProcess:
        env = {**os.environ}
        env.pop("FAKE_PROVIDER_API_KEY", None)
        if self.api_key:
            env["FAKE_PROVIDER_API_KEY"] = self.api_key
        self.process.spawn(
            [
                sys.executable,
                "-m",
                "amas_service.fake_provider",
                "--port",
                "0",
                "--name",
                self.name,
                "--latency-ms",
                str(self.latency_ms),
                "--error-rate",
                str(self.error_rate),
                "--seed",
                str(self.seed),
                "--max-context-tokens",
                str(self.max_context_tokens),
            ],
            env=env,
            stdout_pipe=True,
        )
        popen = self.process.popen
        assert popen is not None and popen.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(popen.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                self.stop()
                raise ServerError(f"{self.process.name} printed no address within {timeout:.0f} s")
        line = popen.stdout.readline().decode().strip()
        if not line.startswith("listening on "):
            self.process.check_running()
            raise ServerError(f"{self.process.name}: unexpected first line {line!r}")
        self.base_url = line.removeprefix("listening on ")
        return self

    def admin(self, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GET (no body) or POST one admin endpoint; its JSON answer."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method="POST" if data else "GET",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def outage(self, down: bool) -> None:
        self.admin("/admin/outage", {"down": down})

    def configure(self, **settings: float) -> None:
        self.admin("/admin/config", settings)

    def stats(self) -> dict[str, Any]:
        return self.admin("/admin/stats")

    def stop(self) -> None:
        self.process.stop(timeout=5)
