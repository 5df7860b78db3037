"""Metrics past one Prometheus: a Thanos receive hashring on 127.0.0.1 (docs/scaling.md).

::

    Prometheus ──remote write──> router ──hashring, replication factor 2──> ingestor 0, 1, 2
                                                                             │ blocks
    Thanos Query <──StoreAPI── ingestors + store gateway <── filesystem bucket ┘

- **ingestors** (``thanos receive`` with ``--receive.local-endpoint``): each series lives on
  ``replication_factor`` of them (a hashring over the series' labels), in a local TSDB whose
  2h blocks are uploaded to the bucket; each carries ``receive_replica="<n>"``;
- the **router** (``thanos receive`` without a local endpoint) stores nothing: it takes the
  remote writes and forwards every series to its replicas; it is stateless, so in a real
  deployment several run behind a load balancer and no ingestor is the single target;
- the **store gateway** serves the uploaded blocks; **Query** fans a PromQL query out to
  the ingestors and the store gateway and deduplicates the replicas (``receive_replica``).

Usage (the stack's Prometheus must run :meth:`ThanosCluster.prometheus_config`)::

    cluster = ThanosCluster(run_dir / "thanos")
    stack = NativeStack(run_dir, ports, components, prometheus_config=cluster.prometheus_config())
    cluster.add_to(stack)       # every node started and healthy
    stack.up()
    cluster.query_url           # the Prometheus HTTP API over the whole cluster
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from amas_devstack.binaries import StackError
from amas_devstack.components import CLUSTER_COMPONENTS, PROMETHEUS_CONFIG, Spec, render
from amas_devstack.ports import free_ports

if TYPE_CHECKING:
    from amas_devstack.native_stack import NativeStack

__all__ = ["REMOTE_WRITE_QUEUE", "REPLICA_LABEL", "ThanosCluster", "ThanosNode"]

#: the label that tells the replicas of a series apart; Query deduplicates along it
REPLICA_LABEL = "receive_replica"

#: Prometheus's remote_write queue: retries back off to 5 s (a recoverable error, e.g. a
#: router that is restarting, is retried until it succeeds, from Prometheus's WAL)
REMOTE_WRITE_QUEUE = {"min_backoff": "100ms", "max_backoff": "5s", "batch_send_deadline": "1s"}


@dataclass(frozen=True)
class ThanosNode:
    """One Thanos process: the values its row of CLUSTER_COMPONENTS is filled with."""

    role: str  # a key of CLUSTER_COMPONENTS
    name: str  # the ingestor's replica label value, or the role
    http: int
    grpc: int
    remote_write: int
    capnproto: int
    hashrings: Path
    objstore: Path
    endpoints: Path
    replication_factor: int
    block_duration: str
    sync_interval: str

    @property
    def component(self) -> str:
        """Its name in the stack."""
        return f"{self.role}-{self.name}" if self.role == "thanos-ingestor" else self.role


class ThanosCluster:
    """The configs and processes of one Thanos receive cluster (see the module docstring)."""

    def __init__(
        self,
        run_dir: Path,
        *,
        ingestors: int = 3,
        replication_factor: int = 2,
        block_duration: str = "2h",
        store_sync_interval: str = "3m",
    ) -> None:
        if not 1 <= replication_factor <= ingestors:
            raise StackError(f"replication factor {replication_factor} needs 1 to {ingestors} ingestors")
        self.run_dir = Path(run_dir).resolve()
        self.replication_factor = replication_factor
        self.bucket = self.run_dir / "bucket"
        roles = [("thanos-ingestor", str(i)) for i in range(ingestors)]
        roles += [("thanos-router", "router"), ("thanos-store", "store"), ("thanos-query", "query")]
        ports = iter(free_ports(4 * len(roles)))
        self.nodes = [
            ThanosNode(
                role,
                name,
                *(next(ports) for _ in range(4)),
                hashrings=self.run_dir / "hashrings.json",
                objstore=self.run_dir / "objstore.yml",
                endpoints=self.run_dir / "query-endpoints.yml",
                replication_factor=replication_factor,
                block_duration=block_duration,
                sync_interval=store_sync_interval,
            )
            for role, name in roles
        ]

    # -- the nodes ------------------------------------------------------------------------
    def node(self, component: str) -> ThanosNode:
        for node in self.nodes:
            if node.component == component:
                return node
        raise StackError(f"no Thanos node {component!r}; known: {[n.component for n in self.nodes]}")

    @property
    def ingestors(self) -> list[ThanosNode]:
        return [n for n in self.nodes if n.role == "thanos-ingestor"]

    @property
    def remote_write_url(self) -> str:
        """Where Prometheus writes: the router."""
        return f"http://127.0.0.1:{self.node('thanos-router').remote_write}/api/v1/receive"

    @property
    def query_url(self) -> str:
        """Thanos Query: the Prometheus HTTP API over ingestors and bucket."""
        return f"http://127.0.0.1:{self.node('thanos-query').http}"

    def http_url(self, component: str) -> str:
        return f"http://127.0.0.1:{self.node(component).http}"

    # -- configs --------------------------------------------------------------------------
    def write_configs(self) -> None:
        """The hashring, the filesystem bucket and Query's endpoints, in the run folder."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.bucket.mkdir(exist_ok=True)
        ring = [
            {
                "hashring": "default",
                "endpoints": [
                    {"address": f"127.0.0.1:{n.grpc}", "capnproto_address": f"127.0.0.1:{n.capnproto}"}
                    for n in self.ingestors
                ],
            }
        ]
        self.nodes[0].hashrings.write_text(json.dumps(ring, indent=2) + "\n")
        self.nodes[0].objstore.write_text(
            f"type: FILESYSTEM\nconfig:\n  directory: {json.dumps(str(self.bucket))}\n"
        )
        stores = [*self.ingestors, self.node("thanos-store")]
        endpoints = {"endpoints": [{"address": f"127.0.0.1:{n.grpc}"} for n in stores]}
        self.nodes[0].endpoints.write_text(json.dumps(endpoints, indent=2) + "\n")

    def prometheus_config(self, base: Path = PROMETHEUS_CONFIG, out: Path | None = None) -> Path:
        """``base`` (rules/prometheus.yml) plus a remote_write to the router, written to
        ``out`` (default: the cluster's run folder); rule_files made absolute, so the rules
        are the repository's own files."""
        config = yaml.safe_load(Path(base).read_text())
        config["rule_files"] = [
            str((Path(base).parent / f).resolve()) for f in config.get("rule_files") or []
        ]
        config["remote_write"] = [
            {
                "name": "thanos",
                "url": self.remote_write_url,
                "send_exemplars": True,
                "queue_config": dict(REMOTE_WRITE_QUEUE),
            }
        ]
        out = out or self.run_dir / "prometheus.yml"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(yaml.safe_dump(config, sort_keys=False))
        return out

    # -- processes ------------------------------------------------------------------------
    def spec(self, node: ThanosNode) -> Spec:
        return render(
            node.component,
            CLUSTER_COMPONENTS[node.role],
            data=self.run_dir / node.component,
            node=node,
        )

    def add_to(self, stack: NativeStack, timeout: float = 90.0) -> ThanosCluster:
        """Writes the configs, starts every node in ``stack`` and waits until all are ready."""
        self.write_configs()
        stack.add_processes([self.spec(node) for node in self.nodes], timeout)
        return self
