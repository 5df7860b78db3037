"""The links into the stack's UIs and the wiring of the trace view that Jaeger serves."""

from __future__ import annotations

import json
import re
import urllib.parse

import pytest

from amas_devstack import links
from amas_devstack.binaries import BINARIES
from amas_devstack.components import TRACE_VIEW_DIR
from amas_devstack.native_stack import NativeStack
from amas_devstack.ports import Ports

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def fake_binaries(tmp_path, monkeypatch):
    """Every binary as a shell script that only sleeps."""
    bin_dir = tmp_path / "build" / "bin"
    bin_dir.mkdir(parents=True)
    for file_name, _ in BINARIES.values():
        (bin_dir / file_name).write_text("#!/bin/sh\nexec sleep 30\n")
        (bin_dir / file_name).chmod(0o755)
    monkeypatch.setenv("AMAS_BUILD_DIR", str(tmp_path / "build"))
    return bin_dir


def fill_link_pattern(url: str, trace_id: str) -> str:
    """What Jaeger UI and the trace view do with a linkPatterns url (trace-view.js)."""
    return re.sub(r"#\{(\w+)\}", lambda m: urllib.parse.quote({"trace_id": trace_id}[m[1]], safe=""), url)


def test_the_logs_link_queries_vmui_for_the_trace_id():
    url = links.trace_logs("http://127.0.0.1:9428", TRACE_ID)
    base, fragment = url.split("#", 1)
    assert base == "http://127.0.0.1:9428/select/vmui/"
    params = urllib.parse.parse_qs(fragment.removeprefix("/?"))
    assert params == {"query": [f'trace_id:"{TRACE_ID}"'], "g0.relative_time": ["last_24_hours"]}


def test_the_prometheus_link_draws_the_expression_as_a_graph():
    url = links.prometheus_graph("http://127.0.0.1:9090", "sum by (le) (rate(x[5m]))")
    split = urllib.parse.urlsplit(url)
    assert split.path == "/query"
    assert urllib.parse.parse_qs(split.query) == {
        "g0.expr": ["sum by (le) (rate(x[5m]))"],
        "g0.tab": ["graph"],
        "g0.range_input": ["5m"],
    }


def test_jaeger_gets_the_trace_view_and_a_config_linking_each_trace_to_its_logs(fake_binaries, tmp_path):
    ports = Ports.random()
    stack = NativeStack(tmp_path / "run", ports, ["jaeger"])
    spec = stack.spec("jaeger")
    assert spec.env["JAEGER_UI_ASSETS"] == str(TRACE_VIEW_DIR)
    config_path = stack.run_dir / "jaeger" / "ui-config.json"
    assert spec.env["JAEGER_UI_CONFIG"] == str(config_path)
    (pattern,) = json.loads(spec.files[config_path])["linkPatterns"]
    assert pattern["type"] == "traces"
    assert fill_link_pattern(pattern["url"], TRACE_ID) == links.trace_logs(stack.victorialogs_url, TRACE_ID)


def test_the_config_file_is_written_before_jaeger_starts(fake_binaries, tmp_path):
    stack = NativeStack(tmp_path / "run", Ports.random(), ["jaeger"])
    stack.start("jaeger", wait=False)
    try:
        config = json.loads((stack.run_dir / "jaeger" / "ui-config.json").read_text())
        assert str(stack.ports.victorialogs) in config["linkPatterns"][0]["url"]
    finally:
        stack.stop("jaeger", grace=0)


def test_the_trace_view_page_has_what_jaegers_static_handler_fills_in():
    """Jaeger's query service replaces these in index.html (cmd/query/app/static_handler.go):
    the UI config, its version, and the base path."""
    page = (TRACE_VIEW_DIR / "index.html").read_text()
    assert re.search(r"JAEGER_CONFIG *= *DEFAULT_CONFIG;", page)
    assert re.search(r"JAEGER_VERSION *= *DEFAULT_VERSION;", page)
    assert '<base href="/"' in page
    for asset in re.findall(r'(?:src|href)="(static/[^"]+)"', page):
        assert (TRACE_VIEW_DIR / asset).is_file(), asset
    assert "not the Jaeger UI" in page
