"""Small PromQL builders, so dashboard queries read like the PromQL they produce.

Every selector carries ``job="$job"`` (the dashboards' service variable); rates use
Grafana's ``$__rate_interval``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dashboards import metrics as m

RATE_WINDOW = "$__rate_interval"
JOB = f'{m.JOB}="$job"'
INSTANCES = f'{m.INSTANCE}=~"$instance"'


def eq(label: str, value: str) -> str:
    return f'{label}="{value}"'


def match(label: str, regex: str) -> str:
    return f'{label}=~"{regex}"'


def has(label: str) -> str:
    """The label is set (``error_type`` exists only on failures)."""
    return f'{label}!=""'


def lacks(label: str) -> str:
    return f'{label}=""'


def selector(metric: str, *matchers: str) -> str:
    return f"{metric}{{{','.join((JOB, *matchers))}}}"


def any_of(metrics: Iterable[str], *matchers: str) -> str:
    """One selector over several metric names."""
    names = "|".join(metrics)
    return f'{{__name__=~"{names}",{",".join((JOB, *matchers))}}}'


def rate(metric: str, *matchers: str, window: str = RATE_WINDOW) -> str:
    return f"rate({selector(metric, *matchers)}[{window}])"


def increase(metric: str, *matchers: str, window: str) -> str:
    return f"increase({selector(metric, *matchers)}[{window}])"


def sum_by(by: Sequence[str], expr: str) -> str:
    return f"sum by ({', '.join(by)}) ({expr})" if by else f"sum({expr})"


def max_by(by: Sequence[str], expr: str) -> str:
    return f"max by ({', '.join(by)}) ({expr})" if by else f"max({expr})"


def share(part: str, rest: str) -> str:
    """``part`` as a share of ``part + rest`` (hits of hits and misses)."""
    return f"{part}\n/\n({part} + {rest})"


def quantile(q: float, histogram: str, by: Sequence[str] = (), *matchers: str) -> str:
    """``histogram_quantile`` over the rate of a classic histogram's buckets."""
    return f"histogram_quantile({q}, {sum_by([*by, m.LE], rate(f'{histogram}_bucket', *matchers))})"


def count_rate(histogram: str, by: Sequence[str] = (), *matchers: str) -> str:
    """Events per second of a histogram (its ``_count``)."""
    return sum_by(by, rate(f"{histogram}_count", *matchers))


def error_ratio(histogram: str, errors: str, by: Sequence[str] = (), *matchers: str) -> str:
    """Share of a histogram's events matching ``errors``; 0 (not nothing) without errors."""
    total = count_rate(histogram, by, *matchers)
    failed = count_rate(histogram, by, *matchers, errors)
    zero = "vector(0)" if not by else f"0 * {total}"
    return f"({failed} or {zero})\n/\n{total}"
