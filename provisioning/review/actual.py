"""What actually fired, beside the backtest: Prometheus's ``ALERTS`` series.

Prometheus writes ``ALERTS{alertname, alertstate, <the rule's and the series' labels>}`` for each of its alerts at
every evaluation (prometheus/rules/alerting.go). Loki's ruler runs the same Prometheus rules manager, and from
Loki 2.3 it can remote-write what that manager appends (pkg/ruler/compat.go hands it the remote-write registry,
pkg/ruler/registry.go), so a ruler that writes to this Prometheus leaves the same series for LogQL rules; Loki 2.2.1's
keeps alert state in memory only (the ruler docs' "Metrics backends vs in-memory"). Alertmanager's API lists current
alerts, not a history. So: ALERTS for Prometheus rules, and for Loki rules when Prometheus holds any.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from provisioning import logql
from provisioning.review.backtest import Firing, LabelSet, intervals_of
from provisioning.review.history import HistoryError, PrometheusSource, Series
from provisioning.review.rules import ReviewRule

LOKI_NOT_RECORDED = ("not recorded: Prometheus holds no ALERTS of any Loki rule over the range (Loki 2.2.1's ruler "
                     "keeps alert state in memory; a ruler that remote-writes to this Prometheus would show here)")
LOKI_RECORDED = "Prometheus ALERTS, written by the Loki ruler"


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


def _fired(series: Series, rule: ReviewRule, end: float, keep: Callable[[Series], Series] | None) -> tuple[Firing, ...]:
    series = of_rule(series, rule)
    if keep is not None:
        series = keep(series)
    drop = {"alertstate", "alertname", *rule.labels}
    merged: dict = {}
    for labels, samples in series.items():
        merged.setdefault(tuple((k, v) for k, v in labels if k not in drop), []).extend(samples)
    return tuple(intervals_of(merged, rule.interval, end))


def actual(rule: ReviewRule, prometheus: PrometheusSource, start: float, end: float,
           loaded: set[str] | None, keep: Callable[[Series], Series] | None = None,
           read: Callable[[], Series] | None = None, loki_recorded: Callable[[], bool] | None = None) -> Actual:
    """The firing intervals Prometheus recorded for ``rule`` (its ``ALERTS`` series, sampled at the interval).

    ``keep`` picks the series the review looks at (``--match``), as it does for the backtest's; ``read`` gives ALERTS
    read once for several rules (default: this rule's alone). For a Loki rule, ``loki_recorded`` says whether
    Prometheus holds ALERTS of any Loki rule over the range (default: of this one); if not, its ruler writes none
    there and no count can be told.
    """
    try:
        series = read() if read is not None else prometheus.range(selector([rule.name]), start, end, rule.interval)
    except HistoryError as exc:
        return Actual(None, f"ALERTS unreadable: {exc}")
    fired = _fired(series, rule, end, keep)
    if rule.datasource != "prometheus":
        recorded = loki_recorded() if loki_recorded is not None else bool(of_rule(series, rule))
        return Actual(fired, LOKI_RECORDED) if recorded else Actual(None, LOKI_NOT_RECORDED)
    if not fired and loaded is not None and rule.name not in loaded:
        return Actual(None, f"unknown: Prometheus at {prometheus.url} has not loaded {rule.name} "
                            "(run `tracklog apply`)")
    return Actual(fired, "Prometheus ALERTS")
