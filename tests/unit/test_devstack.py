"""The dev stack's building blocks: the one pid check and the component table."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from amas_devstack.binaries import BINARIES
from amas_devstack.components import ALL_COMPONENTS, CollectorInstance
from amas_devstack.native_stack import NativeStack
from amas_devstack.ports import Ports
from amas_devstack.processes import pid_alive


@pytest.fixture
def sleeper():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)  # amas-sleeper"])
    try:
        yield child
    finally:
        child.kill()
        child.wait()


class TestPidAlive:
    def test_a_running_child_is_alive(self, sleeper):
        """With a word of its command line too; another word means a reused pid."""
        assert pid_alive(sleeper.pid)
        assert pid_alive(sleeper.pid, "amas-sleeper")
        assert not pid_alive(sleeper.pid, "otelcol-amas")

    def test_a_zombie_is_not_alive(self, sleeper):
        """Killed but not reaped yet: /proc still lists it, as a zombie."""
        sleeper.send_signal(signal.SIGKILL)
        while Path(f"/proc/{sleeper.pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z":
            time.sleep(0.01)
        assert not pid_alive(sleeper.pid)

    def test_a_reaped_child_is_not_alive(self, sleeper):
        sleeper.kill()
        sleeper.wait()
        assert not pid_alive(sleeper.pid)


@pytest.fixture
def built(tmp_path, monkeypatch):
    """A bin folder with an executable file for every binary (never run here)."""
    bin_dir = tmp_path / "build" / "bin"
    bin_dir.mkdir(parents=True)
    for file_name, _ in BINARIES.values():
        (bin_dir / file_name).write_text("#!/bin/sh\n")
        (bin_dir / file_name).chmod(0o755)
    monkeypatch.setenv("AMAS_BUILD_DIR", str(tmp_path / "build"))
    return bin_dir


class TestComponentTable:
    def test_the_specs_bind_every_port_of_the_stack_once(self, built, tmp_path):
        ports = Ports.random()
        stack = NativeStack(tmp_path / "run", ports)
        bound = [port for name in ALL_COMPONENTS for port in stack.spec(name).ports.values()]
        assert sorted(bound) == sorted(ports.as_dict().values())

    def test_endpoints_follow_the_ports(self, tmp_path):
        ports = Ports.random()
        stack = NativeStack(tmp_path / "run", ports)
        assert stack.otlp_grpc_endpoint == f"127.0.0.1:{ports.collector_grpc}"
        assert stack.otlp_http_url == f"http://127.0.0.1:{ports.collector_http}"
        assert stack.prometheus_url == f"http://127.0.0.1:{ports.prometheus}"
        assert stack.jaeger_url == f"http://127.0.0.1:{ports.jaeger_query}"
        assert stack.victorialogs_url == f"http://127.0.0.1:{ports.victorialogs}"
        assert stack.alertmanager_url == f"http://127.0.0.1:{ports.alertmanager}"

    def test_prometheus_row(self, built, tmp_path):
        stack = NativeStack(tmp_path / "run", Ports(prometheus=19090))
        spec = stack.spec("prometheus")
        assert spec.argv == [
            str(built / "prometheus"),
            f"--config.file={stack.prometheus_config}",
            "--web.listen-address=127.0.0.1:19090",
            f"--storage.tsdb.path={stack.run_dir / 'prometheus'}",
            "--web.enable-otlp-receiver",
            "--enable-feature=exemplar-storage",
            "--web.enable-lifecycle",
        ]
        assert spec.health_url == "http://127.0.0.1:19090/-/ready"
        assert spec.data_dirs == [stack.run_dir / "prometheus"]

    def test_an_added_collector_shares_the_row_with_its_own_ports_and_env(self, built, tmp_path):
        ports = Ports.random()
        stack = NativeStack(tmp_path / "run", ports, collector_env={"A": "main"})
        stack.extra_collectors["gw"] = CollectorInstance(Path("/gw.yaml"), 1, 2, 3, 4, {"A": "gw"})
        main, gw = stack.spec("collector"), stack.spec("gw")
        assert gw.argv == [str(built / "otelcol-amas"), "--config", "/gw.yaml"]
        assert gw.ports == {"OTLP gRPC": 1, "OTLP HTTP": 2, "health": 3, "metrics": 4}
        assert gw.env["AMAS_COLLECTOR_STORAGE_DIR"] == str(stack.run_dir / "gw" / "storage")
        assert (main.env["A"], gw.env["A"]) == ("main", "gw")
        stores = ("AMAS_TRACES_ENDPOINT", "AMAS_METRICS_ENDPOINT", "AMAS_LOGS_ENDPOINT")
        assert [main.env[k] for k in stores] == [gw.env[k] for k in stores]
        assert main.env["AMAS_TRACES_ENDPOINT"] == f"127.0.0.1:{ports.jaeger_otlp_grpc}"
        assert main.ports["OTLP gRPC"] == ports.collector_grpc

    def test_the_state_file_brings_the_same_specs_back(self, built, tmp_path):
        stack = NativeStack(tmp_path / "run", Ports.random(), ["jaeger", "collector"])
        stack.extra_collectors["gw"] = CollectorInstance(Path("/gw.yaml"), 1, 2, 3, 4)
        stack._save_state()
        loaded = NativeStack.load(tmp_path / "run")
        for name in ("jaeger", "collector", "gw"):
            assert dataclasses.asdict(loaded.spec(name)) == dataclasses.asdict(stack.spec(name))


@pytest.mark.parametrize(
    ("command", "says"), [("amas-stack", "{up,down,status}"), ("amas-demo", "--keep-running")]
)
def test_the_console_scripts_run_from_anywhere(command, says):
    """The dev stack's commands (what demo.sh and CI run) work from any folder: the editable
    install finds the checkout whose configs they run."""
    script = Path(sys.executable).parent / command
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, cwd="/", check=False)
    assert result.returncode == 0, result.stderr
    assert says in result.stdout


_IMPORT_FROM_ARGV1 = "import sys; sys.path.insert(0, sys.argv[1]); import amas_devstack"


def test_outside_a_checkout_the_stack_says_where_it_must_run(tmp_path):
    """Imported from a copy that is not in a checkout, with no AMAS_REPO_ROOT, the package
    stops with one clear sentence instead of paths into nowhere."""
    import shutil

    import amas_devstack

    copy = tmp_path / "site" / "amas_devstack"
    shutil.copytree(Path(amas_devstack.__file__).parent, copy)
    env = {k: v for k, v in os.environ.items() if k != "AMAS_REPO_ROOT"}
    result = subprocess.run(
        [sys.executable, "-I", "-c", _IMPORT_FROM_ARGV1, str(copy.parent)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert result.returncode == 1
    assert "no checkout of the amas-telemetry repository found" in result.stderr
