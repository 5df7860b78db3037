"""The native stack's components as a table: how each one is run, written as templates.

A row names the binary, its arguments, environment, ports, health URL and data folders.
The templates are filled (``str.format``) with:

- ``{ports.NAME}``: a field of :class:`~amas_devstack.ports.Ports`
- ``{data}``: the component's folder in the run folder
- ``{config}``: its config file (the stack's choice, see ``NativeStack.configs``)
- ``{collector.NAME}``: the :class:`CollectorInstance` (Collector rows only: the main
  Collector and every one added with ``NativeStack.add_collector`` share one row)
- ``{node.NAME}``: one node of a distributed store (the rows of :data:`CLUSTER_COMPONENTS`,
  filled by :mod:`amas_devstack.thanos` and :mod:`amas_devstack.vlcluster`; its ports, its
  name and the paths of the cluster's shared files)

A row's ``files`` are written into its folder before it starts (name -> a function of
the ports that returns the text), for configs that name other components' ports.

A new component is one more row here, in start order (and its ports in ``Ports``); a new
Collector setting is one more line in ``COLLECTOR.env``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from amas_devstack import REPO_ROOT, links
from amas_devstack.binaries import binary
from amas_devstack.ports import Ports

__all__ = [
    "ALL_COMPONENTS",
    "CLUSTER_COMPONENTS",
    "COLLECTOR",
    "COMPONENTS",
    "DEFAULT_COMPONENTS",
    "CollectorInstance",
    "Component",
    "Spec",
]

NATIVE_DIR = REPO_ROOT / "scripts" / "native"
COLLECTOR_CONFIG = REPO_ROOT / "collector" / "config.yaml"
PROMETHEUS_CONFIG = REPO_ROOT / "rules" / "prometheus.yml"  # the one config, with rule_files
ALERTMANAGER_CONFIG = REPO_ROOT / "rules" / "alertmanager.yml"
JAEGER_CONFIG = NATIVE_DIR / "jaeger.yaml"
#: the web page Jaeger serves in place of its UI, which cannot be built here (docs/ui.md)
TRACE_VIEW_DIR = NATIVE_DIR / "trace-view"


@dataclasses.dataclass(frozen=True)
class Component:
    """How to run one component; every string is a template (see the module docstring)."""

    binary: str  # a key of binaries.BINARIES
    args: tuple[str, ...]
    ports: Mapping[str, str]  # what -> port (checked free before start)
    health: str  # a URL that answers 2xx when the component is ready
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    data_dirs: tuple[str, ...] = ("{data}",)
    files: Mapping[str, Callable[[Ports], str]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Spec:
    """How to run one component, filled in: what NativeStack starts."""

    name: str
    argv: list[str]
    env: dict[str, str]
    ports: dict[str, int]  # what -> port (checked free before start)
    health_url: str
    data_dirs: list[Path] = dataclasses.field(default_factory=list)
    files: dict[Path, str] = dataclasses.field(default_factory=dict)  # written before the start


@dataclasses.dataclass(frozen=True)
class CollectorInstance:
    """One Collector process: the main one, or one more (e.g. an agent or a gateway)."""

    config: Path
    grpc: int
    http: int
    health: int
    metrics: int
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http}"


COLLECTOR = Component(
    binary="collector",
    args=("--config", "{collector.config}"),
    ports={
        "OTLP gRPC": "{collector.grpc}",
        "OTLP HTTP": "{collector.http}",
        "health": "{collector.health}",
        "metrics": "{collector.metrics}",
    },
    health="http://127.0.0.1:{collector.health}/",
    env={
        "AMAS_COLLECTOR_OTLP_GRPC": "127.0.0.1:{collector.grpc}",
        "AMAS_COLLECTOR_OTLP_HTTP": "127.0.0.1:{collector.http}",
        "AMAS_COLLECTOR_HEALTH": "127.0.0.1:{collector.health}",
        "AMAS_COLLECTOR_METRICS_HOST": "127.0.0.1",
        "AMAS_COLLECTOR_METRICS_PORT": "{collector.metrics}",
        "AMAS_COLLECTOR_STORAGE_DIR": "{data}/storage",
        "AMAS_TRACES_ENDPOINT": "127.0.0.1:{ports.jaeger_otlp_grpc}",
        "AMAS_METRICS_ENDPOINT": "http://127.0.0.1:{ports.prometheus}/api/v1/otlp",
        "AMAS_LOGS_ENDPOINT": "http://127.0.0.1:{ports.victorialogs}/insert/opentelemetry/v1/logs",
        # the prometheus receiver scrapes Prometheus's own /metrics (job "prometheus")
        "AMAS_PROMETHEUS_TARGET": "127.0.0.1:{ports.prometheus}",
    },
    data_dirs=("{data}/storage",),
)

#: in start order: the stores first, the Collector last (it exports to them)
COMPONENTS: dict[str, Component] = {
    "victorialogs": Component(
        binary="victorialogs",
        args=(
            "-httpListenAddr=127.0.0.1:{ports.victorialogs}",
            "-storageDataPath={data}",
            "-retentionPeriod=7d",
            "-loggerLevel=INFO",
        ),
        ports={"HTTP": "{ports.victorialogs}"},
        health="http://127.0.0.1:{ports.victorialogs}/health",
    ),
    "jaeger": Component(
        binary="jaeger",
        args=("--config", "{config}"),
        env={
            "JAEGER_OTLP_GRPC": "127.0.0.1:{ports.jaeger_otlp_grpc}",
            "JAEGER_OTLP_HTTP": "127.0.0.1:{ports.jaeger_otlp_http}",
            "JAEGER_QUERY_HTTP": "127.0.0.1:{ports.jaeger_query}",
            "JAEGER_QUERY_GRPC": "127.0.0.1:{ports.jaeger_query_grpc}",
            "JAEGER_METRICS_PORT": "{ports.jaeger_metrics}",
            "JAEGER_BADGER_DIR": "{data}",
            "JAEGER_UI_ASSETS": str(TRACE_VIEW_DIR),
            "JAEGER_UI_CONFIG": "{data}/ui-config.json",
        },
        ports={
            "OTLP gRPC": "{ports.jaeger_otlp_grpc}",
            "OTLP HTTP": "{ports.jaeger_otlp_http}",
            "query HTTP": "{ports.jaeger_query}",
            "query gRPC": "{ports.jaeger_query_grpc}",
            "metrics": "{ports.jaeger_metrics}",
        },
        health="http://127.0.0.1:{ports.jaeger_query}/api/services",
        data_dirs=("{data}/keys", "{data}/values"),
        files={
            "ui-config.json": lambda ports: json.dumps(
                links.jaeger_ui_config(f"http://127.0.0.1:{ports.victorialogs}"), indent=2
            )
        },
    ),
    "prometheus": Component(
        binary="prometheus",
        args=(
            "--config.file={config}",
            "--web.listen-address=127.0.0.1:{ports.prometheus}",
            "--storage.tsdb.path={data}",
            "--web.enable-otlp-receiver",
            "--enable-feature=exemplar-storage",
            "--web.enable-lifecycle",
        ),
        ports={"HTTP": "{ports.prometheus}"},
        health="http://127.0.0.1:{ports.prometheus}/-/ready",
    ),
    "alertmanager": Component(
        binary="alertmanager",
        args=(
            "--config.file={config}",
            "--storage.path={data}",
            "--web.listen-address=127.0.0.1:{ports.alertmanager}",
            "--cluster.listen-address=",
        ),
        ports={"HTTP": "{ports.alertmanager}"},
        health="http://127.0.0.1:{ports.alertmanager}/-/ready",
    ),
    "collector": COLLECTOR,
}
ALL_COMPONENTS: tuple[str, ...] = tuple(COMPONENTS)

#: Go processes shut down within this when asked to (Thanos waits 2 min by default)
_THANOS_GRACE = ("--http-grace-period=2s", "--grpc-grace-period=2s")

#: Nodes of the distributed stores (docs/scaling.md), one row per role; a cluster renders
#: its row once per node. Thanos: a receive hashring (ingestors), a stateless receive
#: router in front of it (what Prometheus remote-writes to), Query over the ingestors and the
#: store gateway, which serves the blocks the ingestors upload to the object store.
#: VictoriaLogs cluster mode: the same binary as storage, insert or select node.
CLUSTER_COMPONENTS: dict[str, Component] = {
    "thanos-ingestor": Component(
        binary="thanos",
        args=(
            "receive",
            "--http-address=127.0.0.1:{node.http}",
            "--grpc-address=127.0.0.1:{node.grpc}",
            "--remote-write.address=127.0.0.1:{node.remote_write}",
            "--receive.capnproto-address=127.0.0.1:{node.capnproto}",
            "--receive.local-endpoint=127.0.0.1:{node.grpc}",
            "--receive.hashrings-file={node.hashrings}",
            "--receive.replication-factor={node.replication_factor}",
            '--label=receive_replica="{node.name}"',
            "--tsdb.path={data}",
            "--tsdb.retention=1d",
            # Prometheus accepts samples up to 30 min late (rules/prometheus.yml: a Collector's
            # queue replay); its remote write forwards them, so the ingestors must take them too
            "--tsdb.out-of-order.time-window=30m",
            "--tsdb.max-exemplars=100000",
            "--tsdb.min-block-duration={node.block_duration}",
            "--tsdb.max-block-duration={node.block_duration}",
            "--objstore.config-file={node.objstore}",
            *_THANOS_GRACE,
        ),
        ports={
            "HTTP": "{node.http}",
            "gRPC": "{node.grpc}",
            "remote write": "{node.remote_write}",
            "capnproto": "{node.capnproto}",
        },
        health="http://127.0.0.1:{node.http}/-/ready",
    ),
    "thanos-router": Component(
        binary="thanos",
        args=(
            "receive",
            "--http-address=127.0.0.1:{node.http}",
            "--grpc-address=127.0.0.1:{node.grpc}",
            "--remote-write.address=127.0.0.1:{node.remote_write}",
            "--receive.capnproto-address=127.0.0.1:{node.capnproto}",
            # no --receive.local-endpoint: routing only, it stores nothing (receive still
            # insists on an external label)
            '--label=receive_router="{node.name}"',
            "--receive.hashrings-file={node.hashrings}",
            "--receive.replication-factor={node.replication_factor}",
            "--tsdb.path={data}",
            *_THANOS_GRACE,
        ),
        ports={
            "HTTP": "{node.http}",
            "gRPC": "{node.grpc}",
            "remote write": "{node.remote_write}",
            "capnproto": "{node.capnproto}",
        },
        health="http://127.0.0.1:{node.http}/-/ready",
    ),
    "thanos-store": Component(
        binary="thanos",
        args=(
            "store",
            "--http-address=127.0.0.1:{node.http}",
            "--grpc-address=127.0.0.1:{node.grpc}",
            "--data-dir={data}",
            "--objstore.config-file={node.objstore}",
            "--sync-block-duration={node.sync_interval}",
            *_THANOS_GRACE,
        ),
        ports={"HTTP": "{node.http}", "gRPC": "{node.grpc}"},
        health="http://127.0.0.1:{node.http}/-/ready",
    ),
    "thanos-query": Component(
        binary="thanos",
        args=(
            "query",
            "--http-address=127.0.0.1:{node.http}",
            "--grpc-address=127.0.0.1:{node.grpc}",
            "--endpoint.sd-config-file={node.endpoints}",
            "--endpoint.sd-config-reload-interval=5s",
            # deduplicate the replicas; and drop the receivers' tenant label, as if it were a
            # replica label: with one tenant it is on every series but on no aggregate, so
            # `sum by (…) (…) or 0 * recorded:series` would match nothing (measured: a
            # recording rule answered 0 through Query and 0.019 through Prometheus)
            "--query.replica-label=receive_replica",
            "--query.replica-label=tenant_id",
            *_THANOS_GRACE,
        ),
        ports={"HTTP": "{node.http}", "gRPC": "{node.grpc}"},
        health="http://127.0.0.1:{node.http}/-/ready",
        data_dirs=(),
    ),
    "victorialogs-storage": Component(
        binary="victorialogs",
        args=(
            "-httpListenAddr=127.0.0.1:{node.http}",
            "-storageDataPath={data}",
            "-retentionPeriod=7d",
            # VictoriaLogs has no write-ahead log: rows it acknowledged live in memory until
            # an in-memory part is written out, which a kill -9 loses (up to two intervals).
            # 1 s is the minimum; the default 5 s lost ~10 s of a node's rows here.
            "-inmemoryDataFlushInterval=1s",
            "-loggerLevel=INFO",
        ),
        ports={"HTTP": "{node.http}"},
        health="http://127.0.0.1:{node.http}/health",
    ),
    "victorialogs-insert": Component(
        binary="victorialogs",
        args=(
            "-httpListenAddr=127.0.0.1:{node.http}",
            "-storageNode={node.storage_nodes}",
            "-select.disable",
            "-loggerLevel=INFO",
        ),
        ports={"HTTP": "{node.http}"},
        health="http://127.0.0.1:{node.http}/health",
        data_dirs=(),
    ),
    "victorialogs-select": Component(
        binary="victorialogs",
        args=(
            "-httpListenAddr=127.0.0.1:{node.http}",
            "-storageNode={node.storage_nodes}",
            "-insert.disable",
            "-loggerLevel=INFO",
        ),
        ports={"HTTP": "{node.http}"},
        health="http://127.0.0.1:{node.http}/health",
        data_dirs=(),
    ),
}
DEFAULT_COMPONENTS: tuple[str, ...] = ALL_COMPONENTS


def render(name: str, component: Component, extra_env: Mapping[str, str] = (), **values: Any) -> Spec:
    """Fills a row's templates with ``values`` (ports, data, config, collector); the binary
    path is looked up (BinaryMissing when it is not built); ``extra_env`` comes last."""

    def fill(template: str) -> str:
        return template.format(**values)

    data = Path(values["data"])
    return Spec(
        name,
        [str(binary(component.binary)), *map(fill, component.args)],
        {**{k: fill(v) for k, v in component.env.items()}, **dict(extra_env)},
        {what: int(fill(port)) for what, port in component.ports.items()},
        fill(component.health),
        [Path(fill(d)) for d in component.data_dirs],
        {data / file_name: text(values["ports"]) for file_name, text in component.files.items()},
    )
