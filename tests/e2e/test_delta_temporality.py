"""Delta and cumulative sums and histograms from another OTLP client reach Prometheus, right.

The client is the Collector project's own load generator, ``telemetrygen`` (built by
scripts/build_binaries.sh). Prometheus refuses delta temporality over OTLP; the
Collector's ``delta_to_cumulative`` processor turns it into cumulative first.

What telemetrygen sends (cmd/telemetrygen/pkg/metrics/worker.go, v0.161.0): data point ``i``
of a sum has the value ``i``; data point ``i`` of a histogram is sample ``i % 10`` of a fixed
table, whose samples each count 10 observations. So after ``N`` points:

- cumulative sum: the last point, ``N - 1``; delta sum: ``0 + 1 + ... + (N - 1)``;
- cumulative histogram: the last sample (count 10, sum 3988 for ``N = 10``);
  delta histogram: all samples added up (count ``10 N``, sum 46965 for ``N = 10``).
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable

import pytest

from amas_devstack.binaries import BinaryMissing, binary
from amas_devstack.native_stack import NativeStack

pytestmark = pytest.mark.e2e

POINTS = 10
LAST_HISTOGRAM_SUM = 3988  # sample 9 of telemetrygen's table
ALL_HISTOGRAM_SUMS = 46965  # samples 0..9 added up
CASES = {
    # metric name: (--metric-type, --aggregation-temporality, PromQL, expected value)
    "e2e_cumulative_sum": ("Sum", "cumulative", "e2e_cumulative_sum_total", POINTS - 1),
    "e2e_delta_sum": ("Sum", "delta", "e2e_delta_sum_total", POINTS * (POINTS - 1) // 2),
    "e2e_cumulative_histogram": ("Histogram", "cumulative", "e2e_cumulative_histogram_count", 10),
    "e2e_delta_histogram": ("Histogram", "delta", "e2e_delta_histogram_count", 10 * POINTS),
}
SUMS = {"e2e_cumulative_histogram_sum": LAST_HISTOGRAM_SUM, "e2e_delta_histogram_sum": ALL_HISTOGRAM_SUMS}


@pytest.fixture(scope="module")
def telemetrygen() -> str:
    try:
        return str(binary("telemetrygen"))
    except BinaryMissing as e:
        pytest.fail(str(e), pytrace=False)


def _prom_value(stack: NativeStack, expr: str) -> float | None:
    url = f"{stack.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def _send(telemetrygen: str, stack: NativeStack, name: str, metric_type: str, temporality: str) -> None:
    subprocess.run(
        [
            telemetrygen,
            "metrics",
            f"--otlp-endpoint={stack.otlp_grpc_endpoint}",
            "--otlp-insecure",
            f"--metrics={POINTS}",
            "--rate=20",
            f"--metric-type={metric_type}",
            f"--aggregation-temporality={temporality}",
            f"--otlp-metric-name={name}",
            "--service=e2e-telemetrygen",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_cumulative_and_delta_sums_and_histograms_reach_prometheus(
    stack_factory: Callable[..., NativeStack], telemetrygen: str, e2e_summary: list[str]
) -> None:
    stack = stack_factory(components=("prometheus", "collector"))
    for name, (metric_type, temporality, _, _) in CASES.items():
        _send(telemetrygen, stack, name, metric_type, temporality)

    expected = {expr: value for expr, value in ((c[2], c[3]) for c in CASES.values())} | SUMS
    found: dict[str, float | None] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = {expr: _prom_value(stack, expr) for expr in expected}
        if found == expected:
            break
        time.sleep(1)
    e2e_summary.append(f"[telemetrygen -> Collector -> Prometheus] expected {expected}, found {found}")
    assert found == expected
    refused = stack.tail_log("collector", 400)
    assert "invalid temporality" not in refused, refused
