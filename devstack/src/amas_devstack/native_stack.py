"""Start, check, kill, restart and stop the native stack's processes (see stack_cli for the CLI).

As a module (the e2e tests do this)::

    stack = NativeStack(run_dir, ports=Ports.random())
    stack.up()
    try:
        stack.kill("collector")      # kill -9
        stack.start("collector")     # waits until healthy
        gw = stack.add_collector("gateway1", Path("collector/gateway.yaml"))
        thanos = ThanosReceiveCluster(stack.run_dir / "thanos").add_to(stack)   # more processes
    finally:
        stack.down()

Data, logs and a state file (pids, ports) live in the run folder, so that ``status`` and
``down`` work from another process (:meth:`NativeStack.load`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from amas_devstack.binaries import BinaryMissing, StackError, binary
from amas_devstack.components import (
    ALERTMANAGER_CONFIG,
    ALL_COMPONENTS,
    COLLECTOR,
    COLLECTOR_CONFIG,
    COMPONENTS,
    DEFAULT_COMPONENTS,
    JAEGER_CONFIG,
    PROMETHEUS_CONFIG,
    CollectorInstance,
    Spec,
    render,
)
from amas_devstack.ports import Endpoint, Ports, free_ports, port_in_use
from amas_devstack.processes import http_ok, pid_alive, spawn, tail, terminate

__all__ = ["STATE_FILE", "NativeStack"]

STATE_FILE = "stack.json"


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
        self.extra_processes: dict[str, Spec] = {}
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
    otlp_http_url = Endpoint("collector_http")
    otlp_grpc_endpoint = Endpoint("collector_grpc", scheme="")
    prometheus_url = Endpoint("prometheus")
    jaeger_url = Endpoint("jaeger_query")
    victorialogs_url = Endpoint("victorialogs")
    alertmanager_url = Endpoint("alertmanager")

    # -- specs ----------------------------------------------------------------------------
    @property
    def configs(self) -> dict[str, Path]:
        """component -> its config file (``{config}`` in its row of the component table)."""
        return {
            "collector": self.collector_config,
            "prometheus": self.prometheus_config,
            "alertmanager": self.alertmanager_config,
            "jaeger": JAEGER_CONFIG,
        }

    def spec(self, name: str) -> Spec:
        """How to run one component (or an added Collector), from the component table."""
        if name in self.extra_processes:
            return self.extra_processes[name]
        if name == "collector":
            p = self.ports
            collector = CollectorInstance(
                self.collector_config,
                p.collector_grpc,
                p.collector_http,
                p.collector_health,
                p.collector_metrics,
                self.collector_env,
            )
        elif name in self.extra_collectors:
            collector = self.extra_collectors[name]
        elif name in COMPONENTS:
            config = self.configs.get(name)
            return render(name, COMPONENTS[name], ports=self.ports, data=self.data_dir(name), config=config)
        else:
            raise StackError(f"unknown component {name!r}")
        return render(
            name, COLLECTOR, collector.env, ports=self.ports, data=self.data_dir(name), collector=collector
        )

    def add_collector(
        self, name: str, config: Path, env: Mapping[str, str] | None = None, *, start: bool = True
    ) -> CollectorInstance:
        """Register (and by default start) one more Collector on free ports, e.g. a gateway
        (collector/gateway.yaml) or an agent (collector/agent-loadbalancing.yaml). It gets
        the stores' endpoints and its own storage folder like the main Collector; `env`
        adds to or overrides that. kill/stop/start/restart/down work on it by name."""
        if self._name_taken(name):
            raise StackError(f"component name {name!r} is taken")
        ports = free_ports(4)
        inst = CollectorInstance(Path(config).resolve(), *ports, env=dict(env or {}))
        self.extra_collectors[name] = inst
        self._save_state()
        if start:
            self.start(name)
        return inst

    def add_process(self, spec: Spec, *, start: bool = True, timeout: float = 60.0) -> Spec:
        """Register (and by default start) one more process, already rendered: a node of a
        distributed store (amas_devstack.thanos, amas_devstack.vlcluster). kill/stop/start/
        restart/down work on it by name; ``down`` stops these before the stack's own."""
        if self._name_taken(spec.name):
            raise StackError(f"component name {spec.name!r} is taken")
        self.extra_processes[spec.name] = spec
        self._save_state()
        if start:
            self.start(spec.name, timeout=timeout)
        return spec

    def add_processes(self, specs: Sequence[Spec], timeout: float = 60.0) -> None:
        """:meth:`add_process` for several, started together; waits until every one is healthy."""
        for spec in specs:
            self.add_process(spec, start=False)
        self._start_together([spec.name for spec in specs], timeout)

    def _start_together(self, names: list[str], timeout: float) -> None:
        for name in names:
            self.start(name, wait=False)
        deadline = time.monotonic() + timeout
        for name in names:
            self.wait_healthy(name, max(1.0, deadline - time.monotonic()))

    def _name_taken(self, name: str) -> bool:
        return name in ALL_COMPONENTS or name in self.extra_collectors or name in self.extra_processes

    # -- process control ------------------------------------------------------------------
    def check_binaries(self) -> None:
        """Every binary and config file the chosen components need is there."""
        missing, no_config = [], []
        for name, path in self.configs.items():
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
                f"(another stack running? try `amas-stack status`, or --random-ports)"
            )

    def start(self, name: str, wait: bool = True, timeout: float = 60.0) -> int:
        """Start one component (ports checked first); returns its pid."""
        if self.is_running(name):
            raise StackError(f"{name} is already running (pid {self._pids[name]})")
        spec = self.spec(name)
        self._check_ports(spec)
        for d in spec.data_dirs:
            d.mkdir(parents=True, exist_ok=True)
        for path, text in spec.files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        env = {**os.environ, **spec.env}
        proc = spawn(spec.argv, cwd=self.run_dir, env=env, log_path=self.log_path(name))
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
            deadline = time.monotonic() + timeout
            self._start_together([n for n in self.components if n != "collector"], timeout)
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
        return pid_alive(pid, self._bins.get(name))

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
            terminate(pid, self._procs.get(name), self._bins.get(name), grace)
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
        for name in [
            *reversed(self.extra_collectors),
            *reversed(ALL_COMPONENTS),
            *reversed(self.extra_processes),
        ]:
            if name in self._pids:
                try:
                    self.stop(name)
                except Exception as e:  # keep stopping the others
                    errors.append(f"{name}: {e}")
        if errors:
            raise StackError("while stopping: " + "; ".join(errors))

    # -- health ---------------------------------------------------------------------------
    def is_healthy(self, name: str) -> bool:
        return self.is_running(name) and http_ok(self.spec(name).health_url)

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
            if http_ok(url):
                return
            if time.monotonic() > deadline:
                raise StackError(
                    f"{name} not healthy after {timeout:.0f} s ({url})\n"
                    f"last lines of {self.log_path(name)}:\n{self.tail_log(name)}"
                )
            time.sleep(0.1)

    def tail_log(self, name: str, lines: int = 30) -> str:
        text = tail(self.log_path(name), lines)
        return "\n".join("    " + ln for ln in text.splitlines()) if text else "(no log)"

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
            "extra_processes": {
                n: {**dataclasses.asdict(s), "data_dirs": [str(d) for d in s.data_dirs]}
                for n, s in self.extra_processes.items()
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
        for n, s in (state.get("extra_processes") or {}).items():
            stack.extra_processes[n] = Spec(**{**s, "data_dirs": [Path(d) for d in s["data_dirs"]]})
        stack._pids = {k: int(v) for k, v in state["pids"].items()}
        stack._bins = dict(state.get("binaries", {}))
        return stack
