"""The native stack's components as a table: how each one is run, written as templates.

A row names the binary, its arguments, environment, ports, health URL and data folders.
The templates are filled (``str.format``) with:

- ``{ports.NAME}``: a field of :class:`~amas_devstack.ports.Ports`
- ``{data}``: the component's folder in the run folder
- ``{config}``: its config file (the stack's choice, see ``NativeStack.configs``)
- ``{collector.NAME}``: the :class:`CollectorInstance` (Collector rows only: the main
  Collector and every one added with ``NativeStack.add_collector`` share one row)

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
