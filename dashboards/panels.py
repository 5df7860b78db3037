"""Panel, variable and board helpers shared by every board (grafana-foundation-sdk builders).

A board module (dashboards/boards/) lists its sections as ``(row title, [panels])`` and
hands them to :func:`assemble`. Every query goes to the Prometheus data source with the
fixed UID ``prometheus`` (provisioning/datasources/datasources.yaml); latency panels request
exemplars, which link to the trace in Tempo.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from grafana_foundation_sdk.builders import dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.builders.common import (
    GraphThresholdsStyleConfig,
    StackingConfig,
    VizLegendOptions,
)
from grafana_foundation_sdk.models.common import (
    GraphThresholdsStyleMode,
    LegendDisplayMode,
    LegendPlacement,
    StackingMode,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DashboardLinkType,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

from dashboards import metrics as m
from dashboards.promql import count_rate, has, quantile, rate, selector, sum_by

PROMETHEUS = DataSourceRef(type_val="prometheus", uid="prometheus")
DEFAULT_JOB = "amas-service"

Steps = Sequence[tuple[float | None, str]]
Section = tuple[str, Sequence[Any]]
"""A row title and the panels under it."""


class Target:
    """One PromQL query of a panel; ``exemplar`` asks Prometheus for trace exemplars."""

    def __init__(self, expr: str, legend: str = "", *, exemplar: bool = False, instant: bool = False) -> None:
        self.expr, self.legend, self.exemplar, self.instant = expr, legend, exemplar, instant

    def build(self, ref_id: str) -> prometheus.Dataquery:
        query = prometheus.Dataquery().expr(self.expr).ref_id(ref_id).datasource(PROMETHEUS)
        if self.legend:
            query = query.legend_format(self.legend)
        if self.exemplar:
            query = query.exemplar(True)
        if self.instant:
            query = query.instant()
        return query


def legend(*labels: str) -> str:
    """``{{a}} {{b}}``: a legend made of label values."""
    return " ".join(f"{{{{{label}}}}}" for label in labels)


def threshold_config(*steps: tuple[float | None, str]) -> dashboard.ThresholdsConfig:
    return (
        dashboard.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=value, color=color) for value, color in steps])
    )


def with_targets(panel: Any, targets: Iterable[Target]) -> Any:
    for ref_id, target in zip("ABCDEFGH", targets, strict=False):
        panel = panel.with_target(target.build(ref_id))
    return panel


# --- panels --------------------------------------------------------------------------------------


def graph(
    title: str,
    *targets: Target,
    unit: str = "short",
    description: str = "",
    span: int = 12,
    height: int = 8,
    stacked: bool = False,
    min_value: float | None = None,
    max_value: float | None = None,
    thresholds: Steps = (),
    no_value: str | None = None,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .datasource(PROMETHEUS)
        .unit(unit)
        .span(span)
        .height(height)
        .fill_opacity(10)
        .legend(
            VizLegendOptions()
            .display_mode(LegendDisplayMode.LIST)
            .placement(LegendPlacement.BOTTOM)
            .show_legend(True)
        )
    )
    if description:
        panel = panel.description(description)
    if stacked:
        panel = panel.stacking(StackingConfig().mode(StackingMode.NORMAL))
    if min_value is not None:
        panel = panel.min(min_value)
    if max_value is not None:
        panel = panel.max(max_value)
    if thresholds:
        panel = panel.thresholds(threshold_config((None, "green"), *thresholds)).thresholds_style(
            GraphThresholdsStyleConfig().mode(GraphThresholdsStyleMode.DASHED)
        )
    if no_value is not None:
        panel = panel.no_value(no_value)
    return with_targets(panel, targets)


def ratio(title: str, *targets: Target, **options: Any) -> timeseries.Panel:
    """A graph of shares from 0 to 1."""
    return graph(title, *targets, unit="percentunit", min_value=0, max_value=1, **options)


def latency(
    title: str, *targets: Target, description: str = "", span: int = 12, threshold: float | None = None
) -> timeseries.Panel:
    """A latency graph in seconds; every query asks for exemplars (dot → trace in Tempo)."""
    for target in targets:
        target.exemplar = True
    return graph(
        title,
        *targets,
        unit="s",
        description=description or "Dots are exemplars: click one to open its trace in Tempo.",
        span=span,
        thresholds=[(threshold, "red")] if threshold is not None else (),
    )


def single_stat(
    title: str,
    target: Target,
    *,
    unit: str = "short",
    span: int = 4,
    height: int = 4,
    thresholds: Steps = ((None, "green"),),
    decimals: int | None = None,
    description: str = "",
) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .datasource(PROMETHEUS)
        .unit(unit)
        .span(span)
        .height(height)
        .thresholds(threshold_config(*thresholds))
    )
    if decimals is not None:
        panel = panel.decimals(decimals)
    if description:
        panel = panel.description(description)
    return with_targets(panel, [target])


# --- the RED triplet of a histogram: events/s, error ratio, p95 -----------------------------------


def events_per_second(
    title: str,
    histogram: str,
    by: Sequence[str],
    *,
    unit: str = "ops",
    legend_format: str | None = None,
    **options: Any,
) -> timeseries.Panel:
    """Events/s of a histogram (its ``_count``) by ``by``, one line per label set."""
    target = Target(count_rate(histogram, by), legend(*by) if legend_format is None else legend_format)
    return graph(title, target, unit=unit, **options)


def recorded_error_ratio(
    title: str, record: str, by: str, threshold: float, *, span: int = 8
) -> timeseries.Panel:
    """An error ratio a recording rule keeps by ``by`` (dashboards/recording.py)."""
    target = Target(selector(record), legend(by))
    return graph(title, target, unit="percentunit", span=span, thresholds=[(threshold, "red")])


def p95(title: str, histogram: str, by: Sequence[str], **options: Any) -> timeseries.Panel:
    """p95 of a histogram by ``by``, with exemplars."""
    return latency(title, Target(quantile(0.95, histogram, by), legend(*by)), **options)


def failures_per_second(
    title: str, histogram: str, by: str, *, failed: str = has(m.ERROR_TYPE), unit: str = "ops"
) -> timeseries.Panel:
    """Failed events/s of a histogram by ``by`` and ``error_type``; 0 rather than no data."""
    target = Target(
        count_rate(histogram, [by, m.ERROR_TYPE], failed), f"{legend(by)}: {legend(m.ERROR_TYPE)}"
    )
    return graph(title, target, unit=unit, span=8, no_value="0")


def dollars_per_hour(title: str, counter: str, by: Sequence[str], **options: Any) -> timeseries.Panel:
    """A cost counter in US dollars as dollars per hour, by ``by``."""
    return graph(
        title, Target(f"3600 * {sum_by(by, rate(counter))}", legend(*by)), unit="currencyUSD", **options
    )


def counter_per_second(title: str, counter: str, by: Sequence[str], **options: Any) -> timeseries.Panel:
    """Increase/s of a counter summed by ``by``, one line per label set."""
    return graph(title, Target(sum_by(by, rate(counter)), legend(*by)), **options)


def gauge_sum(title: str, gauge: str, by: Sequence[str], **options: Any) -> timeseries.Panel:
    """A gauge summed by ``by``, one line per label set."""
    return graph(title, Target(sum_by(by, selector(gauge)), legend(*by)), **options)


# --- variables and boards ------------------------------------------------------------------------


def row(title: str) -> dashboard.Row:
    return dashboard.Row(title)


def _query_variable(name: str, label: str, description: str, query: str) -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .description(description)
        .datasource(PROMETHEUS)
        .query(query)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )


def job_variable() -> dashboard.QueryVariable:
    """``$job``: the service (service.name) every AMAS board is about."""
    query = f"label_values({m.HTTP_SERVER_DURATION}_count, {m.JOB})"
    return _query_variable("job", "Service", "service.name of the AMAS process", query).current(
        VariableOption(selected=True, text=DEFAULT_JOB, value=DEFAULT_JOB)
    )


def instances_variable(name: str, label: str, description: str, query: str) -> dashboard.QueryVariable:
    """A multi-value variable of instances, "All" (any instance) by default."""
    return (
        _query_variable(name, label, description, query)
        .multi(True)
        .include_all(True)
        .all_value(".+")
        .current(VariableOption(selected=True, text="All", value="$__all"))
    )


def source_variable(
    name: str, label: str, job: str, metric: str, description: str
) -> dashboard.QueryVariable:
    """The instances of a source the Collector scrapes (fixed job), found by a metric it sends."""
    return instances_variable(name, label, description, f'label_values({metric}{{job="{job}"}}, instance)')


def board(uid: str, title: str, description: str) -> dashboard.Dashboard:
    """A board of the AMAS folder: tagged, last hour, refreshed every 30 s."""
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["amas"])
        .time("now-1h", "now")
        .refresh("30s")
        .timezone("browser")
    )


def service_board(uid: str, title: str, description: str) -> dashboard.Dashboard:
    """A board about one AMAS service (``$job``), linked to the other AMAS boards."""
    return (
        board(uid, title, description)
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .link(
            dashboard.DashboardLink("AMAS dashboards")
            .type(DashboardLinkType.DASHBOARDS)
            .tags(["amas"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
        .with_variable(job_variable())
    )


def assemble(target: dashboard.Dashboard, *sections: Section) -> dashboard.Dashboard:
    """Each section as a row followed by its panels, in order."""
    for title, panels in sections:
        target = target.with_row(row(title))
        for panel in panels:
            target = target.with_panel(panel)
    return target
