"""The panel helpers of dashboards/panels.py, called directly and built to Grafana JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from grafana_foundation_sdk.cog.encoder import JSONEncoder  # noqa: E402

from dashboards import metrics as m  # noqa: E402
from dashboards import panels  # noqa: E402


def _json(builder) -> dict:
    return json.loads(json.dumps(builder.build(), cls=JSONEncoder))


def test_legend_names_each_label():
    assert panels.legend(m.PROVIDER, m.MODEL) == "{{gen_ai_provider_name}} {{gen_ai_request_model}}"


def test_p95_asks_for_exemplars_and_uses_the_labels_as_legend():
    panel = _json(panels.p95("p95", m.AGENT_DURATION, [m.AGENT], threshold=2))
    (target,) = panel["targets"]
    assert target["exemplar"] is True
    assert target["legendFormat"] == "{{gen_ai_agent_name}}"
    assert target["expr"].startswith("histogram_quantile(0.95, sum by (gen_ai_agent_name, le) (")
    assert panel["fieldConfig"]["defaults"]["unit"] == "s"
    assert [s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None, 2]


def test_failures_per_second_counts_only_failures_and_reads_zero_without_them():
    panel = _json(panels.failures_per_second("failures", m.TASK_DURATION, m.TASK_TYPE))
    (target,) = panel["targets"]
    assert 'error_type!=""' in target["expr"]
    assert "sum by (amas_task_type, error_type)" in target["expr"]
    assert target["legendFormat"] == "{{amas_task_type}}: {{error_type}}"
    assert panel["fieldConfig"]["defaults"]["noValue"] == "0"


def test_recorded_error_ratio_reads_the_record_of_the_selected_job():
    record = "job_agent:amas_agent_errors:ratio_rate5m"
    panel = _json(panels.recorded_error_ratio("ratio", record, m.AGENT, 0.15))
    assert panel["targets"][0]["expr"] == f'{record}{{job="$job"}}'
    assert panel["fieldConfig"]["defaults"]["unit"] == "percentunit"


def test_assemble_puts_each_row_before_its_panels():
    first, second, third = (panels.graph(t, panels.Target("up")) for t in ("a", "b", "c"))
    board = panels.assemble(panels.board("uid", "title", "about"), ("one", [first, second]), ("two", [third]))
    layout = [(p["type"], p["title"]) for p in _json(board)["panels"]]
    assert layout == [
        ("row", "one"),
        ("timeseries", "a"),
        ("timeseries", "b"),
        ("row", "two"),
        ("timeseries", "c"),
    ]


def test_service_boards_have_the_job_variable_and_scraped_ones_do_not():
    service = _json(panels.service_board("uid", "title", "about"))
    scraped = _json(panels.board("uid", "title", "about"))
    assert [v["name"] for v in service["templating"]["list"]] == ["job"]
    assert not scraped.get("templating", {}).get("list")
