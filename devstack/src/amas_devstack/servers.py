"""PostgreSQL and Redis as throwaway local servers, for the integration tests and the demo.

Each server binds 127.0.0.1 on its own port, keeps its data in its own folder and is
stopped by :meth:`stop` (SIGINT/SIGTERM, then SIGKILL). Run as root, PostgreSQL runs as
the ``postgres`` OS user (it refuses root), in a data folder that user owns: inside the
server's folder when that user can reach it, else (a clone under ``/root``, mode 700) in a
private folder of the system's temp dir, named in ``<folder>/data-location`` and deleted
when the server stops. Passwords are passed in files, never on command lines (``ps`` shows those).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from amas_devstack.ports import free_port
from amas_devstack.processes import ChildProcess, ServerError, wait_ready

__all__ = [
    "DATA_LOCATION",
    "PostgresServer",
    "RedisServer",
    "find_postgres_bin",
    "find_redis_server",
    "remove_moved_data",
]

DATA_LOCATION = "data-location"
"""The file, in a PostgreSQL server's folder, that names where its data went instead."""


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
        self.home = self.base
        """Where the data folder and the socket live: ``base``, or a private temp folder."""
        self.port = port or free_port()
        self.user, self.database = user, database
        self.password = password or "pg-" + secrets.token_urlsafe(18)
        self.durable = durable
        self.bin = find_postgres_bin()
        self.process = ChildProcess("postgresql", self.base / "postgresql.log", stop_signal=signal.SIGINT)
        self._os_user = "postgres" if os.geteuid() == 0 else None

    @property
    def data(self) -> Path:
        return self.home / "data"

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
            cwd=self.home,
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            check=False,
        )
        if result.returncode != 0:
            raise ServerError(
                f"{Path(argv[0]).name} failed ({result.returncode}): {result.stderr.strip()[-800:]}"
            )

    def _reachable(self, path: Path) -> bool:
        """Whether PostgreSQL's OS user can enter and write ``path`` (every folder above it
        must let other users through)."""
        return subprocess.run(["test", "-w", str(path)], user=self._os_user, check=False).returncode == 0

    def _choose_home(self) -> None:
        """``base`` if PostgreSQL's user can reach it; else the private folder named in
        ``base/data-location`` (a server started there before), else a new one."""
        if not self._os_user or self._reachable(self.base):
            return
        location = self.base / DATA_LOCATION
        if location.is_file():
            moved = Path(location.read_text().strip())
            if moved.is_dir() and self._reachable(moved):
                self.home = moved
                return
        self.home = Path(tempfile.mkdtemp(prefix="amas-postgresql-"))  # 0700
        self._chown(self.home)
        location.write_text(f"{self.home}\n")

    def start(self, timeout: float = 60.0) -> PostgresServer:
        if self.bin is None:
            raise ServerError("PostgreSQL server binaries not found (apt-get install postgresql)")
        if self._os_user and not _user_exists(self._os_user):
            raise ServerError("running as root, but there is no 'postgres' OS user to run PostgreSQL as")
        self.base.mkdir(parents=True, exist_ok=True)
        self._chown(self.base)
        self._choose_home()
        if not (self.data / "PG_VERSION").exists():
            pwfile = self.home / "pwfile"
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
            str(self.home),
            "-c",
            "max_connections=60",
            "-c",
            "shared_buffers=32MB",
        ]
        if not self.durable:
            argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        self.process.spawn(argv, user=self._os_user, cwd=self.home)
        self._chown(self.process.log_path)
        wait_ready("PostgreSQL", lambda: self._ready(), self.process, timeout)
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
        remove_moved_data(self.base)
        self.home = self.base


def remove_moved_data(base: Path) -> None:
    """Delete the private data folder a stopped server in ``base`` used instead of ``base``."""
    location = Path(base) / DATA_LOCATION
    if location.is_file():
        moved = Path(location.read_text().strip())
        if moved.name.startswith("amas-postgresql-") and moved.parent == Path(tempfile.gettempdir()):
            shutil.rmtree(moved, ignore_errors=True)
        location.unlink(missing_ok=True)


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
        self.process = ChildProcess("redis", self.base / "redis.log")

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
        wait_ready("Redis", lambda: self.command("PING") == "+PONG", self.process, timeout)
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
