"""docs/otlp.md's conformance table says what the code reads: checked against the code's table."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from amas_telemetry._internal.config.resolve import resolve_settings
from amas_telemetry._internal.config.settings import SETTINGS
from amas_telemetry._internal.otlp.targets import otlp_targets, otlp_variables

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "otlp.md").read_text()
TABLE = PAGE.split("<!-- conformance:start -->", 1)[1].split("<!-- conformance:end -->", 1)[0]
ROWS = [line for line in TABLE.splitlines() if line.startswith("| ") and not line.startswith("| option")]


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip("|").split("|")]


def _names(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def test_the_table_has_one_row_per_setting_with_exactly_its_variables() -> None:
    documented = {}
    for row in ROWS:
        _, generic, per_signal, keyword, _, _ = _cells(row)
        (name,) = _names(keyword)
        documented[name] = (set(_names(generic)), set(_names(per_signal)))
    code: dict[str, tuple[set[str], set[str]]] = {}
    for var in otlp_variables():
        generic, per_signal = code.setdefault(var.setting, (set(), set()))
        (generic if var.signal is None else per_signal).add(var.variable)
    assert documented == code


def test_the_defaults_in_the_table_are_the_code_s() -> None:
    defaults = {s.name: s.default for s in SETTINGS}
    for row in ROWS:
        _, _, _, keyword, default, _ = _cells(row)
        (name,) = _names(keyword)
        value = defaults[name]
        if value in (None, {}):
            assert default.startswith("none"), (name, default)
        elif isinstance(value, bool):
            assert f"`{str(value).lower()}`" in default, (name, default)
        elif isinstance(value, float):
            assert default.startswith(f"{value:g} s"), (name, default)
        else:
            assert f"`{value}`" in default, (name, default)


def _tests_named(text: str) -> list[str]:
    return re.findall(r"`(tests/[\w/]+\.py::[\w:]+)`", text)


@pytest.mark.parametrize("test_id", sorted(set(_tests_named(PAGE))))
def test_every_test_the_page_names_exists(test_id: str) -> None:
    path, *names = test_id.split("::")
    source = (ROOT / path).read_text()
    for name in names:
        assert re.search(rf"^\s*(def|class) {name}\b", source, re.M), test_id


def test_every_row_names_a_test() -> None:
    assert all(_tests_named(_cells(row)[-1]) for row in ROWS)


def test_a_seconds_value_in_a_milliseconds_variable_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_TIMEOUT": "10"}
    with caplog.at_level(logging.WARNING):
        targets = otlp_targets(resolve_settings({}, env=env))
    assert targets["traces"].timeout == 0.01
    assert "OTEL_EXPORTER_OTLP_TIMEOUT is 10 ms" in caplog.text and "write 10000" in caplog.text
