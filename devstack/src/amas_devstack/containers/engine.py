"""A private host for podman: every container, network and published port lives inside it.

:class:`PodmanHost` starts an anchor process in new network and mount namespaces (``unshare``),
with only a loopback interface and a private tmpfs on ``/run``; every podman and compose
command of the session runs in those namespaces (``nsenter``). So the ports compose.yaml
publishes on 127.0.0.1 (5432, 6379, 9090, ...) are the namespace's own and clash with
nothing on the machine, container traffic stays inside networks made there, and podman's
runtime state and network definitions are the session's own. Nothing is left on the host:
:meth:`PodmanHost.close` removes every container, volume and network and ends the anchor;
the anchor dies with the process that started it (``setpriv --pdeathsig``).

How podman runs here (Debian's podman 4.3): with ``runc`` (crun fails on this kernel's
cgroup layout) and explicit ``nofile``/``nproc`` limits no higher than this process's own
(podman's defaults are above them and runc may not raise them); cgroupfs, no systemd. Without
systemd podman runs no health checks by itself (it asks systemd for a timer): :meth:`tick_health`
runs them, which :class:`HealthTicker` does every few seconds, as that timer would.

Images come from a read-only image store (``image_store``, see images.py), containers and
volumes go to ``workdir``; several sessions on one machine do not see each other's.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["ContainerError", "HealthTicker", "PodmanHost", "in_network_namespace"]

T = TypeVar("T")

#: the Docker API socket inside the namespace: where compose.yaml mounts it from
API_SOCKET = "/run/docker.sock"
#: the group that may use it (the Collector's ``group_add``), as on a Docker host
API_SOCKET_GID = 999


class ContainerError(RuntimeError):
    """A podman or compose command failed; the message has its output."""


def _limits() -> tuple[int, int]:
    """nofile and nproc for containers: this process's hard limits, nproc at most pid_max
    (runc sets both as given; a value above what this process may hold is refused)."""
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    cap = 1 << 20
    nofile = cap if nofile == resource.RLIM_INFINITY else min(nofile, cap)
    nproc = pid_max if nproc == resource.RLIM_INFINITY else min(nproc, pid_max)
    return nofile, nproc


def write_config(
    folder: Path, *, graphroot: Path, runroot: str, image_stores: Sequence[Path] = ()
) -> dict[str, str]:
    """containers.conf, storage.conf, registries.conf in ``folder``; the environment naming them."""
    folder.mkdir(parents=True, exist_ok=True)
    nofile, nproc = _limits()
    (folder / "containers.conf").write_text(
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        'log_driver = "k8s-file"\n'
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
        'pull_policy = "never"\n'
        "[network]\n"
        'network_backend = "netavark"\n'
        f'network_config_dir = "{folder / "networks"}"\n'
    )
    stores = ", ".join(f'"{store}"' for store in image_stores)
    (folder / "storage.conf").write_text(
        "[storage]\n"
        'driver = "overlay"\n'
        f'graphroot = "{graphroot}"\n'
        f'runroot = "{runroot}"\n'
        "[storage.options]\n"
        f"additionalimagestores = [{stores}]\n"
    )
    # short names (postgres:17.5, prom/prometheus:v3.16.0) resolve to docker.io, as docker does;
    # nothing is pulled (pull_policy never): every image is made here
    (folder / "registries.conf").write_text(
        'unqualified-search-registries = ["docker.io"]\nshort-name-mode = "permissive"\n'
    )
    return {
        "CONTAINERS_CONF": str(folder / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(folder / "storage.conf"),
        "CONTAINERS_REGISTRIES_CONF": str(folder / "registries.conf"),
    }


class PodmanHost:
    """Private namespaces and podman configuration for one session (see the module docstring)."""

    def __init__(
        self,
        workdir: Path,
        *,
        image_stores: Sequence[Path] = (),
        graphroot: Path | None = None,
        private_network: bool = True,
    ) -> None:
        """``private_network=False`` keeps the machine's network (image builds that fetch
        packages); podman must then never make a network there (``--network=none|host``)."""
        self.workdir = workdir
        self.private_network = private_network
        self.graphroot = graphroot or workdir / "storage"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            **write_config(
                workdir / "config",
                graphroot=self.graphroot,
                runroot="/run/amas-containers",
                image_stores=image_stores,
            ),
        }
        self._anchor: subprocess.Popen[str] | None = None
        self._api: subprocess.Popen[bytes] | None = None

    # -- namespaces ----------------------------------------------------------------------------

    def start(self) -> PodmanHost:
        self.workdir.mkdir(parents=True, exist_ok=True)
        script = "mount -t tmpfs -o mode=755 tmpfs /run && echo ready && exec sleep infinity"
        namespaces = ["--mount"]
        if self.private_network:
            script = f"ip link set lo up && {script}"
            namespaces.append("--net")
        self._anchor = subprocess.Popen(
            [
                "setpriv",
                "--pdeathsig",
                "KILL",
                "unshare",
                *namespaces,
                "--propagation",
                "private",
                "--fork",
                "--kill-child",
                "sh",
                "-c",
                script,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self._anchor.stdout is not None
        line = self._anchor.stdout.readline().strip()
        if line != "ready":
            self._anchor.kill()
            raise ContainerError(
                f"could not make the private namespaces: {line} {self._anchor.stdout.read()}"
            )
        return self

    @property
    def pid(self) -> int:
        """The pid whose namespaces the session uses (the child of ``unshare --fork``)."""
        assert self._anchor is not None, "not started"
        children = Path(f"/proc/{self._anchor.pid}/task/{self._anchor.pid}/children").read_text().split()
        return int(children[0])

    def _argv(self, argv: Sequence[str], cwd: Path | None) -> list[str]:
        prefix = ["nsenter", "-t", str(self.pid), "-m", *(["-n"] if self.private_network else [])]
        if cwd is not None:
            prefix.append(f"--wd={cwd}")
        return [*prefix, "env", *(f"{k}={v}" for k, v in self.env.items()), *argv]

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 300,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespaces with the podman configuration in its environment."""
        extra = ["env", *(f"{k}={v}" for k, v in env.items())] if env else []
        proc = subprocess.run(
            self._argv([*extra, *argv], cwd), capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise ContainerError(f"{shlex.join(argv)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
        return proc

    def podman(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.run(["podman", *args], timeout=timeout, check=check)

    # -- the Docker API, for compose and the Collector's docker_stats --------------------------

    def start_api(self) -> str:
        """Serve podman's Docker-compatible API on ``/run/docker.sock`` inside the namespaces
        (compose drives podman through it; compose.yaml mounts it into the Collector), owned
        by group 999 with mode 660 as a Docker host's socket is. Returns its DOCKER_HOST."""
        log = open(self.workdir / "podman-api.log", "ab")  # noqa: SIM115 (the child keeps it)
        self._api = subprocess.Popen(
            # ends with this process, like the namespaces' anchor
            [
                "setpriv",
                "--pdeathsig",
                "TERM",
                *self._argv(["podman", "system", "service", "--time=0", f"unix://{API_SOCKET}"], None),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 30
        while self.run(["test", "-S", API_SOCKET], check=False).returncode != 0:
            if self._api.poll() is not None or time.monotonic() > deadline:
                raise ContainerError(f"podman's API did not come up; see {self.workdir / 'podman-api.log'}")
            time.sleep(0.2)
        self.run(["chgrp", str(API_SOCKET_GID), API_SOCKET])
        self.run(["chmod", "660", API_SOCKET])
        return f"unix://{API_SOCKET}"

    # -- health checks ---------------------------------------------------------------------------

    def tick_health(self) -> None:
        """Run the health check of every running container that has one, once."""
        listing = self.podman("ps", "--format", "{{.ID}}|{{.Status}}", check=False, timeout=60).stdout
        for line in listing.splitlines():
            cid, _, status = line.partition("|")
            if "(" in status:  # "Up 3 seconds (starting)": it has a health check
                self.podman("healthcheck", "run", cid, check=False, timeout=60)

    # -- teardown --------------------------------------------------------------------------------

    def close(self) -> None:
        """Remove every container, volume and network of the session; end its processes."""
        if self._anchor is None:
            return
        try:
            if self._anchor.poll() is None:
                self.podman("rm", "--all", "--force", "--time", "0", check=False, timeout=120)
                self.podman("volume", "rm", "--all", "--force", check=False, timeout=60)
                self.podman("network", "prune", "--force", check=False, timeout=60)
        finally:
            if self._api is not None:
                self._api.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._api.wait(10)
                if self._api.poll() is None:
                    self._api.kill()
            # unshare --fork ignores SIGTERM while it waits: end its child, the namespaces' anchor
            if self._anchor.poll() is None:
                with contextlib.suppress(ProcessLookupError, OSError, IndexError):
                    os.kill(self.pid, signal.SIGKILL)
                try:
                    self._anchor.wait(10)
                except subprocess.TimeoutExpired:
                    self._anchor.kill()
                    self._anchor.wait(10)
            if self._anchor.stdout is not None:
                self._anchor.stdout.close()
            self._anchor = None

    def __enter__(self) -> PodmanHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class HealthTicker:
    """Runs :meth:`PodmanHost.tick_health` every ``interval`` seconds in a thread, as the
    systemd timer podman asks for would; ``stop()`` ends it."""

    def __init__(self, host: PodmanHost, interval: float = 5.0) -> None:
        self._host = host
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="health-ticker", daemon=True)

    def start(self) -> HealthTicker:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            with contextlib.suppress(ContainerError, subprocess.TimeoutExpired):
                self._host.tick_health()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=120)


_CLONE_NEWNET = 0x40000000


def in_network_namespace(pid: int, fn: Callable[[], T]) -> T:
    """Call ``fn`` in a thread that has joined the network namespace of ``pid``: sockets it
    opens live there (127.0.0.1 is the namespace's loopback). Other threads are not moved."""
    libc = ctypes.CDLL(None, use_errno=True)
    box: dict[str, Any] = {}

    def target() -> None:
        fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        try:
            if libc.setns(fd, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the session's network namespace failed")
        finally:
            os.close(fd)
        try:
            box["value"] = fn()
        except BaseException as error:  # handed to the caller's thread
            box["error"] = error

    thread = threading.Thread(target=target, name="in-netns")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
