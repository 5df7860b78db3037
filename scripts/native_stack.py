#!/usr/bin/env python3
"""Native observability stack on 127.0.0.1, without containers.

Runs the binaries built by ``scripts/build_binaries.sh`` (found in
``${AMAS_BUILD_DIR:-~/.cache/amas-telemetry}/bin``):

=============  ===============================================  ==========================
component      what                                             default ports
=============  ===============================================  ==========================
collector      otelcol-amas with collector/config.yaml          4317 gRPC, 4318 HTTP,
                                                                13133 health, 8888 metrics
prometheus     Prometheus 3 (OTLP receiver, exemplar storage)   9090
jaeger         Jaeger v2, badger storage (Tempo's stand-in)     14317/14318 OTLP, 16686 API
victorialogs   VictoriaLogs (Loki's stand-in, OTLP logs)        9428
alertmanager   Alertmanager (optional)                          9093
=============  ===============================================  ==========================

Prometheus and Alertmanager read rules/prometheus.yml and rules/alertmanager.yml; Jaeger
reads scripts/native/jaeger.yaml. Data, logs and a state file (pids, ports) live in a run
folder (default ``./run/stack``)::

    scripts/native_stack.py up [--run-dir DIR] [--random-ports] [--without alertmanager]
    scripts/native_stack.py status [--run-dir DIR]
    scripts/native_stack.py down [--run-dir DIR]

As a module (the e2e tests do this)::

    stack = NativeStack(run_dir, ports=Ports.random())
    stack.up()
    try:
        stack.kill("collector")      # kill -9
        stack.start("collector")     # waits until healthy
        gw = stack.add_collector("gateway1", Path("collector/gateway.yaml"))
    finally:
        stack.down()
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NATIVE_DIR = REPO_ROOT / "scripts" / "native"
COLLECTOR_CONFIG = REPO_ROOT / "collector" / "config.yaml"
PROMETHEUS_CONFIG = REPO_ROOT / "rules" / "prometheus.yml"  # the one config, with rule_files
ALERTMANAGER_CONFIG = REPO_ROOT / "rules" / "alertmanager.yml"
BUILD_SCRIPT = "scripts/build_binaries.sh"

#: component -> (file name in the bin folder, argument of the build script)
BINARIES: dict[str, tuple[str, str]] = {
    "collector": ("otelcol-amas", "collector"),
    "prometheus": ("prometheus", "prometheus"),
    "promtool": ("promtool", "promtool"),
    "alertmanager": ("alertmanager", "alertmanager"),
    "amtool": ("amtool", "amtool"),
    "jaeger": ("jaeger", "jaeger"),
    "victorialogs": ("victoria-logs", "victorialogs"),
    "telemetrygen": ("telemetrygen", "telemetrygen"),  # a load generator, not a stack component
}

#: start order: the stores first, the Collector last (it exports to them)
ALL_COMPONENTS: tuple[str, ...] = ("victorialogs", "jaeger", "prometheus", "alertmanager", "collector")
DEFAULT_COMPONENTS: tuple[str, ...] = ALL_COMPONENTS

STATE_FILE = "stack.json"


class StackError(RuntimeError):
    """A component could not be started, is unhealthy, or a port is taken."""


class BinaryMissing(StackError):
    """A binary has not been built on this machine."""


# ---------------------------------------------------------------------------------------
# binaries


def build_root() -> Path:
    """The build cache; ``AMAS_BUILD_DIR`` overrides ``~/.cache/amas-telemetry``."""
    env = os.environ.get("AMAS_BUILD_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "amas-telemetry"


def bin_dir() -> Path:
    return build_root() / "bin"


def binary(component: str) -> Path:
    """Path of a built binary; raises BinaryMissing with the command that builds it."""
    file_name, build_arg = BINARIES[component]
    path = bin_dir() / file_name
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise BinaryMissing(
            f"{component}: binary {path} not found; build it with "
            f"`bash {BUILD_SCRIPT} {build_arg}` (or `bash {BUILD_SCRIPT}` for all)"
        )
    return path


# ---------------------------------------------------------------------------------------
# ports


@dataclasses.dataclass(frozen=True)
class Ports:
    """Every port the stack binds, all on 127.0.0.1."""

    collector_grpc: int = 4317
    collector_http: int = 4318
    collector_health: int = 13133
    collector_metrics: int = 8888
    prometheus: int = 9090
    jaeger_otlp_grpc: int = 14317
    jaeger_otlp_http: int = 14318
    jaeger_query: int = 16686
    jaeger_query_grpc: int = 16685
    jaeger_metrics: int = 14269
    victorialogs: int = 9428
    alertmanager: int = 9093

    @classmethod
    def random(cls) -> Ports:
        """Distinct free ports picked by the kernel (held open together while picking)."""
        socks = []
        try:
            for _ in dataclasses.fields(cls):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind(("127.0.0.1", 0))
                socks.append(s)
            return cls(*(s.getsockname()[1] for s in socks))
        finally:
            for s in socks:
                s.close()

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something listens on host:port (a bind with SO_REUSEADDR fails)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


# ---------------------------------------------------------------------------------------
# components


@dataclasses.dataclass
class Spec:
    """How to run one component."""

    name: str
    argv: list[str]
    env: dict[str, str]
    ports: dict[str, int]  # what -> port (checked free before start)
    health_url: str
    data_dirs: list[Path] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class CollectorInstance:
    """One more Collector process (e.g. an agent or a gateway) next to the main one."""

    config: Path
    grpc: int
    http: int
    health: int
    metrics: int
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http}"


class NativeStack:
    """Start, check, kill, restart and stop the native stack's processes."""

    def __init__(
        self,
        run_dir: str | os.PathLike[str] = "run/stack",
        ports: Ports | None = None,
        components: Iterable[str] = DEFAULT_COMPONENTS,
        *,
        collector_config: Path | None = None,
        prometheus_config: Path | None = None,
        alertmanager_config: Path | None = None,
        collector_env: Mapping[str, str] | None = None,
        grace_seconds: float = 10.0,
    ) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.ports = ports or Ports()
        unknown = set(components) - set(ALL_COMPONENTS)
        if unknown:
            raise StackError(f"unknown components {sorted(unknown)}; known: {list(ALL_COMPONENTS)}")
        self.components = tuple(c for c in ALL_COMPONENTS if c in set(components))
        self.collector_config = collector_config or COLLECTOR_CONFIG
        self.prometheus_config = prometheus_config or PROMETHEUS_CONFIG
        self.alertmanager_config = alertmanager_config or ALERTMANAGER_CONFIG
        self.collector_env = dict(collector_env or {})
        self.grace_seconds = grace_seconds
        self.extra_collectors: dict[str, CollectorInstance] = {}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._pids: dict[str, int] = {}
        self._bins: dict[str, str] = {}

    # -- layout ---------------------------------------------------------------------------
    def log_path(self, name: str) -> Path:
        return self.run_dir / "logs" / f"{name}.log"

    def data_dir(self, name: str) -> Path:
        return self.run_dir / name

    @property
    def state_path(self) -> Path:
        return self.run_dir / STATE_FILE

    # -- endpoints for clients ------------------------------------------------------------
    @property
    def otlp_http_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.collector_http}"

    @property
    def otlp_grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.ports.collector_grpc}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.prometheus}"

    @property
    def jaeger_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.jaeger_query}"

    @property
    def victorialogs_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.victorialogs}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.alertmanager}"

    # -- specs ----------------------------------------------------------------------------
    def spec(self, name: str) -> Spec:
        p = self.ports
        if name == "collector":
            main = CollectorInstance(
                self.collector_config,
                p.collector_grpc,
                p.collector_http,
                p.collector_health,
                p.collector_metrics,
                self.collector_env,
            )
            return self._collector_spec(name, main)
        if name in self.extra_collectors:
            return self._collector_spec(name, self.extra_collectors[name])
        if name == "prometheus":
            data = self.data_dir("prometheus")
            return Spec(
                name,
                [
                    str(binary("prometheus")),
                    f"--config.file={self.prometheus_config}",
                    f"--web.listen-address=127.0.0.1:{p.prometheus}",
                    f"--storage.tsdb.path={data}",
                    "--web.enable-otlp-receiver",
                    "--enable-feature=exemplar-storage",
                    "--web.enable-lifecycle",
                ],
                {},
                {"HTTP": p.prometheus},
                f"http://127.0.0.1:{p.prometheus}/-/ready",
                [data],
            )
        if name == "jaeger":
            data = self.data_dir("jaeger")
            env = {
                "JAEGER_OTLP_GRPC": f"127.0.0.1:{p.jaeger_otlp_grpc}",
                "JAEGER_OTLP_HTTP": f"127.0.0.1:{p.jaeger_otlp_http}",
                "JAEGER_QUERY_HTTP": f"127.0.0.1:{p.jaeger_query}",
                "JAEGER_QUERY_GRPC": f"127.0.0.1:{p.jaeger_query_grpc}",
                "JAEGER_METRICS_PORT": str(p.jaeger_metrics),
                "JAEGER_BADGER_DIR": str(data),
            }
            return Spec(
                name,
                [str(binary("jaeger")), "--config", str(NATIVE_DIR / "jaeger.yaml")],
                env,
                {
                    "OTLP gRPC": p.jaeger_otlp_grpc,
                    "OTLP HTTP": p.jaeger_otlp_http,
                    "query HTTP": p.jaeger_query,
                    "query gRPC": p.jaeger_query_grpc,
                    "metrics": p.jaeger_metrics,
                },
                f"http://127.0.0.1:{p.jaeger_query}/api/services",
                [data / "keys", data / "values"],
            )
        if name == "victorialogs":
            data = self.data_dir("victorialogs")
            return Spec(
                name,
                [
                    str(binary("victorialogs")),
                    f"-httpListenAddr=127.0.0.1:{p.victorialogs}",
                    f"-storageDataPath={data}",
                    "-retentionPeriod=7d",
                    "-loggerLevel=INFO",
                ],
                {},
                {"HTTP": p.victorialogs},
                f"http://127.0.0.1:{p.victorialogs}/health",
                [data],
            )
        if name == "alertmanager":
            data = self.data_dir("alertmanager")
            return Spec(
                name,
                [
                    str(binary("alertmanager")),
                    f"--config.file={self.alertmanager_config}",
                    f"--storage.path={data}",
                    f"--web.listen-address=127.0.0.1:{p.alertmanager}",
                    "--cluster.listen-address=",
                ],
                {},
                {"HTTP": p.alertmanager},
                f"http://127.0.0.1:{p.alertmanager}/-/ready",
                [data],
            )
        raise StackError(f"unknown component {name!r}")

    def _collector_spec(self, name: str, c: CollectorInstance) -> Spec:
        p = self.ports
        storage = self.data_dir(name) / "storage"
        env = {
            "AMAS_COLLECTOR_OTLP_GRPC": f"127.0.0.1:{c.grpc}",
            "AMAS_COLLECTOR_OTLP_HTTP": f"127.0.0.1:{c.http}",
            "AMAS_COLLECTOR_HEALTH": f"127.0.0.1:{c.health}",
            "AMAS_COLLECTOR_METRICS_HOST": "127.0.0.1",
            "AMAS_COLLECTOR_METRICS_PORT": str(c.metrics),
            "AMAS_COLLECTOR_STORAGE_DIR": str(storage),
            "AMAS_TRACES_ENDPOINT": f"127.0.0.1:{p.jaeger_otlp_grpc}",
            "AMAS_METRICS_ENDPOINT": f"http://127.0.0.1:{p.prometheus}/api/v1/otlp",
            "AMAS_LOGS_ENDPOINT": f"http://127.0.0.1:{p.victorialogs}/insert/opentelemetry/v1/logs",
            # the prometheus receiver scrapes Prometheus's own /metrics (job "prometheus")
            "AMAS_PROMETHEUS_TARGET": f"127.0.0.1:{p.prometheus}",
            **c.env,
        }
        return Spec(
            name,
            [str(binary("collector")), "--config", str(c.config)],
            env,
            {"OTLP gRPC": c.grpc, "OTLP HTTP": c.http, "health": c.health, "metrics": c.metrics},
            f"http://127.0.0.1:{c.health}/",
            [storage],
        )

    def add_collector(
        self, name: str, config: Path, env: Mapping[str, str] | None = None, *, start: bool = True
    ) -> CollectorInstance:
        """Register (and by default start) one more Collector on free ports, e.g. a gateway
        (collector/gateway.yaml) or an agent (collector/agent-loadbalancing.yaml). It gets
        the stores' endpoints and its own storage folder like the main Collector; `env`
        adds to or overrides that. kill/stop/start/restart/down work on it by name."""
        if name in ALL_COMPONENTS or name in self.extra_collectors:
            raise StackError(f"component name {name!r} is taken")
        socks = []
        try:
            for _ in range(4):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind(("127.0.0.1", 0))
                socks.append(s)
            ports = [s.getsockname()[1] for s in socks]
        finally:
            for s in socks:
                s.close()
        inst = CollectorInstance(Path(config).resolve(), *ports, env=dict(env or {}))
        self.extra_collectors[name] = inst
        self._save_state()
        if start:
            self.start(name)
        return inst

    # -- process control ------------------------------------------------------------------
    def check_binaries(self) -> None:
        """Every binary and config file the chosen components need is there."""
        missing, no_config = [], []
        configs = {
            "collector": self.collector_config,
            "prometheus": self.prometheus_config,
            "alertmanager": self.alertmanager_config,
            "jaeger": NATIVE_DIR / "jaeger.yaml",
        }
        for name, path in configs.items():
            if name in self.components and not Path(path).is_file():
                no_config.append(f"{name}: config file {path} not found")
        for name in self.components:
            try:
                binary(name)
            except BinaryMissing as e:
                missing.append(str(e))
        if missing:
            raise BinaryMissing("\n".join(missing + no_config))
        if no_config:
            raise StackError("\n".join(no_config))

    def _check_ports(self, spec: Spec) -> None:
        taken = [f"{what} port {port}" for what, port in spec.ports.items() if port_in_use(port)]
        if taken:
            raise StackError(
                f"{spec.name}: cannot start, already in use on 127.0.0.1: {', '.join(taken)} "
                f"(another stack running? try `scripts/native_stack.py status`, or --random-ports)"
            )

    def start(self, name: str, wait: bool = True, timeout: float = 60.0) -> int:
        """Start one component (ports checked first); returns its pid."""
        if self.is_running(name):
            raise StackError(f"{name} is already running (pid {self._pids[name]})")
        spec = self.spec(name)
        self._check_ports(spec)
        for d in spec.data_dirs:
            d.mkdir(parents=True, exist_ok=True)
        log_path = self.log_path(name)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **spec.env}
        with open(log_path, "ab") as log:
            log.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%S')} start: {' '.join(spec.argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                spec.argv,
                cwd=self.run_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._procs[name] = proc
        self._pids[name] = proc.pid
        self._bins[name] = spec.argv[0]
        self._save_state()
        if wait:
            self.wait_healthy(name, timeout)
        return proc.pid

    def up(self, timeout: float = 90.0) -> NativeStack:
        """Start every component (stores first, Collector last) and wait until healthy.

        On any failure, whatever was started is stopped again before the error is raised.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.check_binaries()
        specs = [self.spec(n) for n in self.components]
        for spec in specs:  # all port clashes are reported before anything starts
            self._check_ports(spec)
        try:
            stores = [n for n in self.components if n != "collector"]
            for name in stores:
                self.start(name, wait=False)
            deadline = time.monotonic() + timeout
            for name in stores:
                self.wait_healthy(name, max(1.0, deadline - time.monotonic()))
            if "collector" in self.components:
                self.start("collector", wait=True, timeout=max(5.0, deadline - time.monotonic()))
        except BaseException:
            self.down()
            raise
        return self

    def __enter__(self) -> NativeStack:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()

    def pid(self, name: str) -> int | None:
        return self._pids.get(name)

    def is_running(self, name: str) -> bool:
        pid = self._pids.get(name)
        if pid is None:
            return False
        proc = self._procs.get(name)
        if proc is not None:
            return proc.poll() is None
        return _pid_alive(pid, self._bins.get(name))

    def signal(self, name: str, sig: int) -> None:
        """Send a signal (e.g. SIGSTOP/SIGCONT to freeze a store) to a running component."""
        if not self.is_running(name):
            raise StackError(f"{name} is not running")
        os.kill(self._pids[name], sig)

    def kill(self, name: str) -> None:
        """kill -9 one component and reap it (no shutdown, no flush)."""
        self.stop(name, grace=0.0)

    def stop(self, name: str, grace: float | None = None) -> None:
        """SIGTERM, then SIGKILL after the grace period; grace=0 sends SIGKILL at once."""
        grace = self.grace_seconds if grace is None else grace
        pid = self._pids.get(name)
        if pid is None:
            return
        if self.is_running(name):
            # a stopped (SIGSTOP) process must be continued to act on SIGTERM
            with contextlib.suppress(ProcessLookupError):
                if grace > 0:
                    os.kill(pid, signal.SIGTERM)
                    os.kill(pid, signal.SIGCONT)
                else:
                    os.kill(pid, signal.SIGKILL)
            if not self._wait_exit(name, grace):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                self._wait_exit(name, 10.0)
        self._procs.pop(name, None)
        self._pids.pop(name, None)
        self._bins.pop(name, None)
        self._save_state()

    def restart(self, name: str, *, kill: bool = False, timeout: float = 60.0) -> int:
        """Stop (or kill -9 when kill=True) and start again, waiting until healthy."""
        if kill:
            self.kill(name)
        else:
            self.stop(name)
        return self.start(name, wait=True, timeout=timeout)

    def down(self) -> None:
        """Stop everything this stack started (reverse order: the Collector first)."""
        errors = []
        for name in [*reversed(self.extra_collectors), *reversed(ALL_COMPONENTS)]:
            if name in self._pids:
                try:
                    self.stop(name)
                except Exception as e:  # keep stopping the others
                    errors.append(f"{name}: {e}")
        if errors:
            raise StackError("while stopping: " + "; ".join(errors))

    def _wait_exit(self, name: str, timeout: float) -> bool:
        proc = self._procs.get(name)
        if proc is not None:
            try:
                proc.wait(timeout=timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _pid_alive(self._pids[name], self._bins.get(name)):
                return True
            time.sleep(0.05)
        return not _pid_alive(self._pids[name], self._bins.get(name))

    # -- health ---------------------------------------------------------------------------
    def is_healthy(self, name: str) -> bool:
        return self.is_running(name) and _http_ok(self.spec(name).health_url)

    def wait_healthy(self, name: str, timeout: float = 60.0) -> None:
        url = self.spec(name).health_url
        deadline = time.monotonic() + timeout
        while True:
            if not self.is_running(name):
                code = self._procs[name].returncode if name in self._procs else "?"
                raise StackError(
                    f"{name} exited (code {code}) before it became healthy\n"
                    f"last lines of {self.log_path(name)}:\n{self.tail_log(name)}"
                )
            if _http_ok(url):
                return
            if time.monotonic() > deadline:
                raise StackError(
                    f"{name} not healthy after {timeout:.0f} s ({url})\n"
                    f"last lines of {self.log_path(name)}:\n{self.tail_log(name)}"
                )
            time.sleep(0.1)

    def tail_log(self, name: str, lines: int = 30) -> str:
        try:
            data = self.log_path(name).read_bytes()[-20000:]
        except OSError:
            return "(no log)"
        return "\n".join("    " + ln for ln in data.decode(errors="replace").splitlines()[-lines:])

    def status(self) -> list[dict[str, object]]:
        rows = []
        for name in [*self.components, *self.extra_collectors]:
            spec = None
            with contextlib.suppress(StackError):
                spec = self.spec(name)
            rows.append(
                {
                    "component": name,
                    "pid": self._pids.get(name),
                    "running": self.is_running(name),
                    "healthy": self.is_healthy(name) if spec else False,
                    "ports": spec.ports if spec else {},
                    "health_url": spec.health_url if spec else "",
                }
            )
        return rows

    # -- state file (so that `down`/`status` work from another process) --------------------
    def _save_state(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "ports": self.ports.as_dict(),
            "components": list(self.components),
            "pids": self._pids,
            "binaries": self._bins,
            "collector_config": str(self.collector_config),
            "prometheus_config": str(self.prometheus_config),
            "alertmanager_config": str(self.alertmanager_config),
            "collector_env": self.collector_env,
            "extra_collectors": {
                n: {**dataclasses.asdict(c), "config": str(c.config), "env": dict(c.env)}
                for n, c in self.extra_collectors.items()
            },
        }
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_path)

    @classmethod
    def load(cls, run_dir: str | os.PathLike[str]) -> NativeStack:
        path = Path(run_dir).resolve() / STATE_FILE
        try:
            state = json.loads(path.read_text())
        except FileNotFoundError:
            raise StackError(f"no stack state in {path} (was `up` run with this --run-dir?)") from None
        stack = cls(
            run_dir,
            Ports(**state["ports"]),
            state["components"],
            collector_config=Path(state["collector_config"]),
            prometheus_config=Path(state["prometheus_config"]),
            alertmanager_config=Path(state["alertmanager_config"]),
            collector_env=state.get("collector_env") or {},
        )
        for n, c in (state.get("extra_collectors") or {}).items():
            stack.extra_collectors[n] = CollectorInstance(**{**c, "config": Path(c["config"])})
        stack._pids = {k: int(v) for k, v in state["pids"].items()}
        stack._bins = dict(state.get("binaries", {}))
        return stack


def _pid_alive(pid: int, binary_path: str | None) -> bool:
    """The pid exists, is not a zombie, and (if known) still runs our binary."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        return False
    if binary_path:
        try:
            exe = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0].decode()
        except OSError:
            return False
        return exe == binary_path
    return True


def _http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


# ---------------------------------------------------------------------------------------
# CLI


def _print_status(stack: NativeStack) -> bool:
    all_ok = True
    print(f"run dir: {stack.run_dir}")
    print(f"{'component':<13} {'pid':>8}  {'state':<9}  ports")
    for row in stack.status():
        state = "healthy" if row["healthy"] else ("running" if row["running"] else "stopped")
        all_ok &= bool(row["healthy"])
        ports = ", ".join(f"{k} {v}" for k, v in row["ports"].items())  # type: ignore[union-attr]
        print(f"{row['component']:<13} {row['pid'] or '-':>8}  {state:<9}  {ports}")
    return all_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--run-dir", default="run/stack", help="data, logs and state (default ./run/stack)")
    parser.add_argument("--random-ports", action="store_true", help="pick free ports instead of the defaults")
    parser.add_argument(
        "--without",
        action="append",
        default=[],
        choices=ALL_COMPONENTS,
        help="leave a component out (repeatable)",
    )
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for health (up)")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            if (Path(args.run_dir) / STATE_FILE).exists():
                old = NativeStack.load(args.run_dir)
                if any(old.is_running(n) for n in old.components):
                    print(f"a stack is already running from {old.run_dir}; `down` it first", file=sys.stderr)
                    return 1
            comps = [c for c in DEFAULT_COMPONENTS if c not in args.without]
            stack = NativeStack(args.run_dir, Ports.random() if args.random_ports else Ports(), comps)
            stack.up(timeout=args.timeout)
            _print_status(stack)
            return 0
        stack = NativeStack.load(args.run_dir)
        if args.command == "status":
            return 0 if _print_status(stack) else 1
        stack.down()
        print(f"stopped the stack in {stack.run_dir}")
        return 0
    except StackError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
