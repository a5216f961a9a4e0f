"""What actually fired, beside the backtest: Prometheus's ``ALERTS`` series for its rules.

Loki 2.2.1's ruler keeps alert state in memory only (no remote write of ``ALERTS`` before Loki 2.3), and
Alertmanager's API lists current alerts, not a history: for Loki rules there is nothing to read back over a range.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from provisioning import logql
from provisioning.review.backtest import Firing, LabelSet, intervals_of
from provisioning.review.history import HistoryError, PrometheusSource, Series
from provisioning.review.rules import ReviewRule

LOKI_UNAVAILABLE = ("not queryable: Loki 2.2.1's ruler keeps alert state in memory and cannot remote-write ALERTS "
                    "(Loki 2.3+ can, into Prometheus)")


@dataclass(frozen=True)
class Actual:
    firings: tuple[Firing, ...] | None  # None: unknown, ``note`` says why
    note: str = ""


def selector(names: Iterable[str]) -> str:
    """The firing ``ALERTS`` of the named rules: one query for every rule evaluated at the same interval."""
    return f'ALERTS{{alertstate="firing", {logql.matcher("alertname", sorted(set(names)))}}}'


def of_rule(series: Series, rule: ReviewRule) -> Series:
    """The ``ALERTS`` series of ``rule``: its alertname and the labels it adds (several rules share a name)."""
    def mine(labels: LabelSet) -> bool:
        values = dict(labels)
        return values.get("alertname") == rule.name and all(values.get(k) == v for k, v in rule.labels.items())
    return {labels: samples for labels, samples in series.items() if mine(labels)}


def prometheus_actual(source: PrometheusSource, rule: ReviewRule, start: float, end: float,
                      loaded: set[str] | None, keep: Callable[[Series], Series] | None = None,
                      read: Callable[[], Series] | None = None) -> Actual:
    """The firing intervals Prometheus recorded for ``rule`` (its ``ALERTS`` series, sampled at the interval);
    ``keep`` picks the series the review looks at (``--match``), as it does for the backtest's; ``read`` gives
    ALERTS read once for several rules (default: this rule's alone)."""
    try:
        series = read() if read is not None else source.range(selector([rule.name]), start, end, rule.interval)
    except HistoryError as exc:
        return Actual(None, f"ALERTS unreadable: {exc}")
    series = of_rule(series, rule)
    if keep is not None:
        series = keep(series)
    drop = {"alertstate", "alertname", *rule.labels}
    merged: dict = {}
    for labels, samples in series.items():
        merged.setdefault(tuple((k, v) for k, v in labels if k not in drop), []).extend(samples)
    fired = tuple(intervals_of(merged, rule.interval, end))
    if not fired and loaded is not None and rule.name not in loaded:
        return Actual(None, f"unknown: Prometheus at {source.url} has not loaded {rule.name} (run `tracklog apply`)")
    return Actual(fired, "Prometheus ALERTS")


def actual(rule: ReviewRule, prometheus: PrometheusSource, start: float, end: float,
           loaded: set[str] | None, keep: Callable[[Series], Series] | None = None,
           read: Callable[[], Series] | None = None) -> Actual:
    if rule.datasource == "prometheus":
        return prometheus_actual(prometheus, rule, start, end, loaded, keep, read)
    return Actual(None, LOKI_UNAVAILABLE)
