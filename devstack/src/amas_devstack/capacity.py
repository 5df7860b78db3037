"""How many agents, gateways and store nodes a load needs, from figures measured here.

::

    python -m amas_devstack.capacity --replicas 40 --rps 25 --sampling 0.05 [--nodes 20] [--json]

The load is N service replicas each serving R requests/s at trace sampling ratio p. The
figures (``benchmarks/capacity_figures.json``, written by ``python -m benchmarks.capacity``)
are measured on this repository's stack, as CPU seconds of the process under test per item:

- what a request makes: exported spans at sampling 1 and at sampling 0 (the tail decision
  keeps the traces that erred), log records; what a replica exports per metric interval
  (OTLP data points, Prometheus samples);
- CPU seconds per span, log record and metric point of an agent and of a gateway Collector;
  per sample of Prometheus, of a Thanos receive router and of an ingestor; per log line of a
  VictoriaLogs insert and storage node;
- bytes the app's export spool writes per span, log record and metric point while its
  Collector is away (the gateways' persistent queues hold the same OTLP encoding: their size
  for a store outage follows from the same figures).

Assumptions: a process's CPU is linear in its items (per-item figures measured at thousands
of items per second, in full batches), plus, for the agents, the gateways and Prometheus, a
term per service replica (a replica's exports are small requests; Prometheus evaluates the
rules over the series each replica brings), and for every store node a term per node (its
flushes and compactions); those two were measured with the reference service at a few
requests per second, at the app's default 10 s metric export interval; a tier is sized to a target
utilisation (default 50 %: room for bursts and for a node's share when another fails, as
VictoriaLogs' and Thanos's guides advise); exported spans scale as
``spans(0) + p * (spans(1) - spans(0))``; metric samples depend on the replicas and the
export interval, not on the request rate (series are cumulative); replication factor 2 on the
Thanos ingestors (every sample stored twice); VictoriaLogs does not replicate. Memory is
not modelled beyond the measured resident size of each process under load (see the figures).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from amas_devstack import REPO_ROOT

__all__ = [
    "FIGURES_FILE",
    "Assumptions",
    "Figures",
    "Load",
    "Plan",
    "figures_table",
    "load_figures",
    "main",
    "plan",
]

FIGURES_FILE = REPO_ROOT / "benchmarks" / "capacity_figures.json"


@dataclass(frozen=True)
class Figures:
    """What benchmarks/capacity.py measured (see the module docstring)."""

    spans_per_request_sampled: float  # exported spans per request at sampling 1
    spans_per_request_unsampled: float  # exported spans per request at sampling 0
    logs_per_request: float
    points_per_replica_export: float  # OTLP metric data points per replica per export
    samples_per_replica_export: float  # Prometheus samples per replica per export
    cpu: Mapping[str, Mapping[str, float]]  # process -> item -> CPU seconds per item
    spool_bytes: Mapping[str, float]  # span / log / point -> bytes in the spool
    # agent, gateway, prometheus -> CPU seconds per second per service replica beyond the
    # items: a replica's exports are small requests; Prometheus evaluates the rules over the
    # series every replica brings
    cpu_per_replica: Mapping[str, float] = field(default_factory=dict)
    # the stores' nodes -> CPU seconds per second each node spends beyond its items (flushes,
    # compaction, request handling at a low rate)
    cpu_per_node: Mapping[str, float] = field(default_factory=dict)
    rss_mib: Mapping[str, float] = field(default_factory=dict)  # process -> resident MiB under load

    def cpu_per(self, process: str, item: str) -> float:
        return self.cpu[process][item]


@dataclass(frozen=True)
class Load:
    replicas: int
    rps: float  # requests per second per replica
    sampling: float
    nodes: int | None = None  # where the replicas run (one agent each); default: one per replica
    export_interval_s: float = 10.0  # AMAS_METRIC_EXPORT_INTERVAL

    @property
    def agent_nodes(self) -> int:
        return self.nodes or self.replicas


@dataclass(frozen=True)
class Assumptions:
    utilisation: float = 0.5  # target CPU utilisation of every tier
    gateway_cores: float = 2.0  # cores of one gateway (its CPU limit)
    prometheus_cores: float = 8.0  # past this, one Prometheus is too small: shard, or Thanos
    router_cores: float = 2.0
    ingestor_cores: float = 4.0
    replication_factor: int = 2
    vlinsert_cores: float = 2.0
    vlstorage_cores: float = 4.0
    min_gateways: int = 2  # one may fail or roll
    min_routers: int = 2
    min_vlstorage: int = 2
    outage_budget_s: float = 300.0  # spool sized to bridge an agent outage this long
    store_outage_s: float = 900.0  # gateway queues sized to bridge a store outage this long


@dataclass(frozen=True)
class Tier:
    """One tier: how many processes, and the cores they use in all at the load."""

    name: str
    count: int
    cores: float  # busy cores in all (at 100 % of a core = 1.0)
    per_process_cores: float  # busy cores of one process
    note: str = ""


@dataclass(frozen=True)
class Plan:
    load: Load
    rates: dict[str, float]  # items per second in all
    tiers: list[Tier]
    spool_bytes_per_outage_s: float  # per replica
    spool_bytes_for_budget: float  # per replica, for Assumptions.outage_budget_s
    # per gateway, for Assumptions.store_outage_s: items its fullest exporter queue must hold
    # (sending_queue.queue_size, AMAS_COLLECTOR_QUEUE_ITEMS) and bytes on its queue volume
    queue_items: float = 0.0
    queue_bytes: float = 0.0


def load_figures(path: Path = FIGURES_FILE) -> Figures:
    data = json.loads(Path(path).read_text())
    return Figures(**{k: data[k] for k in Figures.__dataclass_fields__ if k in data})


def _count(cores: float, per_process: float, utilisation: float, minimum: int = 1) -> int:
    return max(minimum, math.ceil(cores / (per_process * utilisation) - 1e-9))


def plan(load: Load, figures: Figures, assumptions: Assumptions = Assumptions()) -> Plan:
    """The tiers a load needs (see the module docstring for the assumptions)."""
    a, f = assumptions, figures
    requests = load.replicas * load.rps
    spans = requests * (
        f.spans_per_request_unsampled
        + load.sampling * (f.spans_per_request_sampled - f.spans_per_request_unsampled)
    )
    logs = requests * f.logs_per_request
    points = load.replicas * f.points_per_replica_export / load.export_interval_s
    samples = load.replicas * f.samples_per_replica_export / load.export_interval_s
    rates = {
        "requests": requests,
        "spans": spans,
        "log_records": logs,
        "metric_points": points,
        "samples": samples,
    }

    def per_replica(process: str) -> float:
        return load.replicas * f.cpu_per_replica.get(process, 0.0)

    def collector(process: str) -> float:
        items = spans * f.cpu_per(process, "span") + logs * f.cpu_per(process, "log")
        return items + points * f.cpu_per(process, "point") + per_replica(process)

    def nodes(process: str, items_cores: float, cores_each: float, minimum: int) -> tuple[int, float]:
        """Nodes for a store tier whose every node also spends cpu_per_node, and their cores."""
        fixed = f.cpu_per_node.get(process, 0.0)
        count = _count(items_cores, cores_each - fixed / a.utilisation, a.utilisation, minimum)
        return count, items_cores + count * fixed

    agent_cores = collector("agent")
    gateway_cores = collector("gateway")
    prometheus_cores = samples * f.cpu_per("prometheus", "sample") + per_replica("prometheus")
    routers, router_cores = nodes(
        "thanos_router", samples * f.cpu_per("thanos_router", "sample"), a.router_cores, a.min_routers
    )
    ingestors, ingestor_cores = nodes(
        "thanos_ingestor",
        samples * a.replication_factor * f.cpu_per("thanos_ingestor", "sample"),
        a.ingestor_cores,
        a.replication_factor + 1,
    )
    vlinsert, vlinsert_cores = nodes(
        "victorialogs_insert", logs * f.cpu_per("victorialogs_insert", "line"), a.vlinsert_cores, 1
    )
    vlstorage, vlstorage_cores = nodes(
        "victorialogs_storage",
        logs * f.cpu_per("victorialogs_storage", "line"),
        a.vlstorage_cores,
        a.min_vlstorage,
    )
    gateways = _count(gateway_cores, a.gateway_cores, a.utilisation, a.min_gateways)
    one_prometheus = prometheus_cores <= a.prometheus_cores * a.utilisation
    tiers = [
        Tier(
            "agent", load.agent_nodes, agent_cores, agent_cores / load.agent_nodes, "one per node (DaemonSet)"
        ),
        Tier("gateway", gateways, gateway_cores, gateway_cores / gateways),
        Tier(
            "prometheus",
            1,
            prometheus_cores,
            prometheus_cores,
            "enough"
            if one_prometheus
            else f"above {a.prometheus_cores * a.utilisation:g} cores: past one Prometheus",
        ),
        Tier("thanos_router", routers, router_cores, router_cores / routers),
        Tier(
            "thanos_ingestor",
            ingestors,
            ingestor_cores,
            ingestor_cores / ingestors,
            f"RF {a.replication_factor}",
        ),
        Tier("victorialogs_insert", vlinsert, vlinsert_cores, vlinsert_cores / vlinsert),
        Tier("victorialogs_storage", vlstorage, vlstorage_cores, vlstorage_cores / vlstorage),
    ]
    spool_per_replica = (
        load.rps
        * (
            f.spans_per_request_unsampled
            + load.sampling * (f.spans_per_request_sampled - f.spans_per_request_unsampled)
        )
        * f.spool_bytes["span"]
        + load.rps * f.logs_per_request * f.spool_bytes["log"]
        + f.points_per_replica_export / load.export_interval_s * f.spool_bytes["point"]
    )
    # a gateway's queues during a store outage: its share of each signal, at the spool's bytes
    # per item (the same OTLP encoding)
    share = {"span": spans / gateways, "log": logs / gateways, "point": points / gateways}
    queue_items = max(share.values()) * a.store_outage_s
    queue_bytes = sum(share[k] * f.spool_bytes[k] for k in share) * a.store_outage_s
    return Plan(
        load, rates, tiers, spool_per_replica, spool_per_replica * a.outage_budget_s, queue_items, queue_bytes
    )


#: process -> (what it is, item -> what one item is) for the figures table
_PROCESSES = {
    "agent": ("agent Collector", {"span": "span", "log": "log record", "point": "metric data point"}),
    "gateway": ("gateway Collector", {"span": "span", "log": "log record", "point": "metric data point"}),
    "prometheus": ("Prometheus (OTLP in, rules, remote write out)", {"sample": "sample appended"}),
    "thanos_router": ("Thanos receive router", {"sample": "sample forwarded"}),
    "thanos_ingestor": ("Thanos receive ingestor", {"sample": "sample stored (RF 2: each twice)"}),
    "victorialogs_insert": ("VictoriaLogs insert node", {"line": "log line"}),
    "victorialogs_storage": ("VictoriaLogs storage node", {"line": "log line stored"}),
}


def figures_table(f: Figures) -> str:
    """The measured figures as a Markdown table (docs/scaling.md holds it; a test compares)."""
    rows = [
        "| process | item | CPU µs per item | items/s per core | and per replica / per node |",
        "|---|---|--:|--:|---|",
    ]
    for process, (name, items) in _PROCESSES.items():
        for item, label in items.items():
            cost = f.cpu_per(process, item)
            if process in f.cpu_per_replica:
                extra = f"{f.cpu_per_replica[process] * 1e3:.1f} ms/s per replica"
            else:
                extra = f"{f.cpu_per_node.get(process, 0.0) * 1e3:.1f} ms/s per node"
            rows.append(f"| {name} | {label} | {cost * 1e6:.1f} | {1 / cost:,.0f} | {extra} |")
    return "\n".join(rows)


def render(p: Plan) -> str:
    lines = [
        f"load: {p.load.replicas} replicas x {p.load.rps:g} req/s at sampling {p.load.sampling:g} "
        f"on {p.load.agent_nodes} nodes (metric export every {p.load.export_interval_s:g} s)",
        "items/s: " + ", ".join(f"{k} {v:,.0f}" for k, v in p.rates.items()),
        "",
        f"{'tier':<22}{'processes':>10}{'cores in all':>14}{'cores each':>12}  note",
    ]
    for t in p.tiers:
        lines.append(f"{t.name:<22}{t.count:>10}{t.cores:>14.2f}{t.per_process_cores:>12.3f}  {t.note}")
    lines += [
        "",
        f"export spool per replica: {p.spool_bytes_per_outage_s / 1e3:,.1f} kB per second of outage, "
        f"{p.spool_bytes_for_budget / 2**20:,.1f} MiB for {Assumptions().outage_budget_s:g} s",
        f"gateway queues for a {Assumptions().store_outage_s:g} s store outage, per gateway: "
        f"{p.queue_items:,.0f} items in the fullest exporter queue, {p.queue_bytes / 2**30:,.1f} GiB on disk",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, required=True, help="service replicas")
    parser.add_argument("--rps", type=float, required=True, help="requests per second per replica")
    parser.add_argument("--sampling", type=float, required=True, help="trace sampling ratio (0..1)")
    parser.add_argument(
        "--nodes", type=int, help="nodes the replicas run on (one agent each; default: replicas)"
    )
    parser.add_argument("--export-interval", type=float, default=10.0, help="AMAS_METRIC_EXPORT_INTERVAL (s)")
    parser.add_argument(
        "--utilisation", type=float, default=Assumptions.utilisation, help="target CPU use per tier"
    )
    parser.add_argument("--figures", type=Path, default=FIGURES_FILE, help="measured figures (JSON)")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    args = parser.parse_args(argv)
    if not 0 <= args.sampling <= 1 or args.replicas < 1 or args.rps < 0:
        parser.error("--replicas >= 1, --rps >= 0, --sampling in 0..1")
    load = Load(args.replicas, args.rps, args.sampling, args.nodes, args.export_interval)
    result = plan(load, load_figures(args.figures), Assumptions(utilisation=args.utilisation))
    if args.json:
        data: dict[str, Any] = asdict(result)
        json.dump(data, sys.stdout, indent=2)
        print()
    else:
        print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
