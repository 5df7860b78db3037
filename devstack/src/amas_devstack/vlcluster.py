"""Logs past one node: VictoriaLogs in cluster mode on 127.0.0.1 (docs/scaling.md).

::

    Collector ──OTLP logs──> insert node ──spreads the logs──> storage node 0, storage node 1
    Grafana / the trace→logs link ──LogsQL──> select node ──asks every storage node──┘

One binary in three roles: a node started with ``-storageNode`` is an insert or a select
node (``-select.disable`` / ``-insert.disable``); without it, a storage node (the single-node
VictoriaLogs the native stack runs). The insert node spreads the logs over the storage nodes
without replicating them; the select node queries all of them and merges. The HTTP API of
the insert node is the single node's insert API and the select node's is its query API, so
the Collector's ``AMAS_LOGS_ENDPOINT`` and the trace→logs query change only their host.

Usage::

    cluster = VictoriaLogsCluster(run_dir / "vlcluster").add_to(stack)
    stack.collector_env["AMAS_LOGS_ENDPOINT"] = cluster.otlp_logs_url
    cluster.select_url      # /select/logsql/query ...
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from amas_devstack.components import CLUSTER_COMPONENTS, Spec, render
from amas_devstack.ports import free_ports

if TYPE_CHECKING:
    from amas_devstack.native_stack import NativeStack

__all__ = ["VictoriaLogsCluster", "VictoriaLogsNode"]


@dataclass(frozen=True)
class VictoriaLogsNode:
    """One VictoriaLogs process: the values its row of CLUSTER_COMPONENTS is filled with."""

    role: str  # victorialogs-storage, -insert or -select
    name: str
    http: int
    storage_nodes: str  # what -storageNode gets (insert and select nodes)

    @property
    def component(self) -> str:
        return f"{self.role}-{self.name}" if self.role == "victorialogs-storage" else self.role

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http}"


class VictoriaLogsCluster:
    """Storage nodes behind one insert and one select node (see the module docstring)."""

    def __init__(self, run_dir: Path, *, storage_nodes: int = 2) -> None:
        self.run_dir = Path(run_dir).resolve()
        ports = free_ports(storage_nodes + 2)
        storage = [
            VictoriaLogsNode("victorialogs-storage", str(i), ports[i], "") for i in range(storage_nodes)
        ]
        addresses = ",".join(f"127.0.0.1:{n.http}" for n in storage)
        self.nodes = [
            *storage,
            VictoriaLogsNode("victorialogs-insert", "insert", ports[-2], addresses),
            VictoriaLogsNode("victorialogs-select", "select", ports[-1], addresses),
        ]

    def node(self, component: str) -> VictoriaLogsNode:
        return next(n for n in self.nodes if n.component == component)

    @property
    def storage(self) -> list[VictoriaLogsNode]:
        return [n for n in self.nodes if n.role == "victorialogs-storage"]

    @property
    def insert_url(self) -> str:
        return self.node("victorialogs-insert").url

    @property
    def select_url(self) -> str:
        return self.node("victorialogs-select").url

    @property
    def otlp_logs_url(self) -> str:
        """The Collector's ``AMAS_LOGS_ENDPOINT``: the insert node's OTLP logs path."""
        return f"{self.insert_url}/insert/opentelemetry/v1/logs"

    def spec(self, node: VictoriaLogsNode) -> Spec:
        return render(
            node.component, CLUSTER_COMPONENTS[node.role], data=self.run_dir / node.component, node=node
        )

    def add_to(self, stack: NativeStack, timeout: float = 60.0) -> VictoriaLogsCluster:
        """Starts the storage nodes, then the insert and select nodes, in ``stack``; waits
        until every one is healthy."""
        stack.add_processes([self.spec(node) for node in self.nodes], timeout)
        return self
