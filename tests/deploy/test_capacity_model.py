"""The capacity model (amas_devstack.capacity): its arithmetic on made-up figures, the measured
figures file, and the chart's scaled values against what the model gives for their load."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from amas_devstack.capacity import FIGURES_FILE, Assumptions, Figures, Load, load_figures, plan

REPO_ROOT = Path(__file__).resolve().parents[2]
SCALED_VALUES = REPO_ROOT / "deploy" / "helm" / "amas-telemetry" / "ci" / "scaled-values.yaml"

FIGURES = Figures(
    spans_per_request_sampled=10.0,
    spans_per_request_unsampled=1.0,
    logs_per_request=2.0,
    points_per_replica_export=300.0,
    samples_per_replica_export=3000.0,
    cpu={
        "agent": {"span": 1e-5, "log": 1e-5, "point": 1e-6},
        "gateway": {"span": 2e-5, "log": 2e-5, "point": 2e-6},
        "prometheus": {"sample": 1e-6},
        "thanos_router": {"sample": 1e-6},
        "thanos_ingestor": {"sample": 2e-6},
        "victorialogs_insert": {"line": 1e-6},
        "victorialogs_storage": {"line": 4e-6},
    },
    spool_bytes={"span": 300.0, "log": 200.0, "point": 50.0},
)


def tiers(load: Load, figures: Figures = FIGURES, **assume: float) -> dict[str, object]:
    return {t.name: t for t in plan(load, figures, Assumptions(**assume)).tiers}


def test_items_follow_replicas_rate_and_sampling():
    p = plan(Load(replicas=10, rps=100, sampling=0.5, export_interval_s=10), FIGURES)
    assert p.rates["requests"] == 1000
    assert p.rates["spans"] == pytest.approx(1000 * (1 + 0.5 * 9))
    assert p.rates["log_records"] == 2000
    assert p.rates["metric_points"] == pytest.approx(10 * 300 / 10)
    assert p.rates["samples"] == pytest.approx(10 * 3000 / 10)


def test_gateways_grow_with_the_load_and_never_drop_below_two():
    small = tiers(Load(1, 1, 0.01))["gateway"]
    assert small.count == 2
    # 1000 replicas x 100 req/s at sampling 1: 1e6 spans/s x 2e-5 s = 20 cores -> 20 at 2 cores x 50 %
    big = tiers(Load(1000, 100, 1.0))["gateway"]
    spans, logs = 1000 * 100 * 10, 1000 * 100 * 2
    cores = spans * 2e-5 + logs * 2e-5 + 1000 * 300 / 10 * 2e-6
    assert big.cores == pytest.approx(cores)
    assert big.count == pytest.approx(cores / (2 * 0.5), abs=1)


def test_ingestors_store_every_sample_replication_factor_times():
    t = tiers(Load(100, 1, 0.1, export_interval_s=10))
    samples = 100 * 3000 / 10
    assert t["thanos_ingestor"].cores == pytest.approx(samples * 2 * 2e-6)
    assert t["thanos_ingestor"].count >= 3  # replication factor 2 needs a third node to lose one


def test_agents_are_one_per_node():
    t = tiers(Load(40, 25, 0.05, nodes=20))
    assert t["agent"].count == 20
    assert t["agent"].per_process_cores == pytest.approx(t["agent"].cores / 20)


def test_the_spool_per_second_of_outage():
    p = plan(Load(1, 10, 0.5, export_interval_s=10), FIGURES)
    expected = 10 * (1 + 0.5 * 9) * 300 + 10 * 2 * 200 + 300 / 10 * 50
    assert p.spool_bytes_per_outage_s == pytest.approx(expected)
    assert p.spool_bytes_for_budget == pytest.approx(expected * Assumptions().outage_budget_s)


# -- the measured figures and what depends on them ----------------------------------------------
def test_the_measured_figures_are_complete_and_positive():
    figures = load_figures()
    for process in ("agent", "gateway"):
        assert set(figures.cpu[process]) == {"span", "log", "point"}
    for process, items in figures.cpu.items():
        assert all(v > 0 for v in items.values()), process
    assert figures.spans_per_request_sampled > figures.spans_per_request_unsampled >= 0
    assert set(figures.spool_bytes) == {"span", "log", "point"}
    assert json.loads(FIGURES_FILE.read_text())["machine"]


def _scaled_load() -> tuple[Load, dict]:
    """The load the scaled values file was sized for, read from its header comment."""
    text = SCALED_VALUES.read_text()
    command = re.search(r"python -m amas_devstack\.capacity (.+)", text)
    assert command, "the scaled values file names the capacity command it was sized with"
    args = dict(re.findall(r"--([a-z-]+) (\S+)", command.group(1)))
    load = Load(int(args["replicas"]), float(args["rps"]), float(args["sampling"]), int(args["nodes"]))
    defaults = yaml.safe_load((SCALED_VALUES.parents[1] / "values.yaml").read_text())
    return load, _merged(defaults, yaml.safe_load(text))


def _merged(base: dict, over: dict) -> dict:
    """Helm's merge of a values file over the chart's values (maps merge, the rest replaces)."""
    out = dict(base)
    for key, value in over.items():
        out[key] = (
            _merged(base[key], value)
            if isinstance(value, dict) and isinstance(base.get(key), dict)
            else value
        )
    return out


def _cores(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if str(quantity).endswith("m") else float(quantity)


def _bytes(quantity: str) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    return float(quantity[:-2]) * units[quantity[-2:]]


def test_the_scaled_values_are_what_the_model_gives():
    load, values = _scaled_load()
    p = plan(load, load_figures())
    t = {x.name: x for x in p.tiers}
    assert values["gateway"]["replicas"] == t["gateway"].count
    assert values["gateway"]["queueItems"] >= p.queue_items
    assert _bytes(values["gateway"]["persistence"]["size"]) >= p.queue_bytes
    assert _cores(values["gateway"]["resources"]["requests"]["cpu"]) >= t["gateway"].per_process_cores
    assert _cores(values["agent"]["resources"]["requests"]["cpu"]) >= t["agent"].per_process_cores
    assert values["service"]["replicas"] == load.replicas
    assert values["service"]["samplingRatio"] == load.sampling


def test_the_command_prints_a_plan():
    args = ["--replicas", "40", "--rps", "25", "--sampling", "0.05", "--nodes", "20", "--json"]
    proc = subprocess.run(
        [sys.executable, "-m", "amas_devstack.capacity", *args], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    names = {t["name"] for t in result["tiers"]}
    assert names >= {"agent", "gateway", "thanos_ingestor", "victorialogs_storage"}


def test_the_docs_show_the_measured_figures():
    """docs/scaling.md's table of figures is the figures file, not a copy that ages."""
    from amas_devstack.capacity import figures_table

    page = (REPO_ROOT / "docs" / "scaling.md").read_text()
    block = re.search(r"<!-- capacity-figures:[^>]*-->\n(.*?)\n<!-- /capacity-figures -->", page, re.DOTALL)
    assert block, "docs/scaling.md has no capacity-figures block"
    assert block.group(1) == figures_table(load_figures())
