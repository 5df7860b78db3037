"""The generated pages (python -m docs.generate) are what the generator writes from today's code."""

from __future__ import annotations

import pytest

from amas_telemetry.catalog import CATALOG, prometheus_name
from amas_telemetry.spanmetrics import DEFAULT_RULES, rule
from docs import generate


@pytest.mark.parametrize("name", generate.PAGES)
def test_the_committed_page_is_what_the_generator_writes(name):
    committed = (generate.ROOT / name).read_text()
    assert committed == generate.PAGES[name](), f"{name} is stale: run `python -m docs.generate`"


def test_the_check_mode_reports_nothing_to_write():
    assert generate.write(check=True) == []


def test_the_settings_reference_has_a_row_per_setting_with_its_variables():
    from amas_telemetry._internal.config.settings import SETTINGS

    page = generate.settings_page()
    for setting in SETTINGS:
        row = next(line for line in page.splitlines() if line.startswith(f"| `{setting.name}` |"))
        assert all(f"`{var}`" in row for var in setting.env_vars), row


def test_the_catalog_page_has_a_section_per_metric_with_its_prometheus_name():
    page = generate.metric_catalog_page()
    for spec in CATALOG.values():
        section = page.split(f"### `{spec.name}`\n", 1)[1].split("\n### ", 1)[0]
        assert f"`{prometheus_name(spec)}`" in section


def test_the_catalog_names_the_spans_and_value_of_each_rule():
    page = generate.metric_catalog_page()
    http = page.split("### `http.server.request.duration`\n", 1)[1].split("\n### ", 1)[0]
    assert "**Made by:** HTTP server spans" in http and "the span's duration, in seconds" in http
    assert "[HighAPIErrorRate](../../rules/RUNBOOK.md#runbook-highapierrorrate)" in http
    assert len(DEFAULT_RULES) > 15


def test_a_rule_without_a_docstring_stops_the_generator():
    undocumented = rule(
        next(iter(CATALOG)), when=lambda span, attrs: True, value=lambda span, attrs: 1.0
    )
    with pytest.raises(ValueError, match="needs a docstring"):
        generate.describe(undocumented.when)


def test_the_readme_example_is_the_app_section_of_the_example_file():
    section = generate.example_section()
    assert section.startswith("import logging\n") and "def create_app(" in section
    assert "def main(" not in section  # the serving part stays in the file
    assert f"```python\n{section}```" in (generate.ROOT / "README.md").read_text()
