"""Summaries of a signal and of firings: percentiles, medians, per label set."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from provisioning.review.backtest import LabelSet, Samples
from provisioning.troubleshoot.stats import percentile

QUANTILES = (0.5, 0.95, 0.99)


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q`` quantile of ascending values, linearly interpolated between ranks (numpy's default); the same
    computation as the troubleshooting reports' percentiles, which this uses.

    Raises:
        ValueError: no values, or ``q`` outside [0, 1].
    """
    return percentile(sorted_values, q)


def median(values: Iterable[float]) -> float | None:
    ordered = sorted(values)
    return quantile(ordered, 0.5) if ordered else None


@dataclass(frozen=True)
class Distribution:
    """A signal's values over the history (only the evaluations where its series existed)."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Distribution | None:
        ordered = sorted(v for v in values if not math.isnan(v))
        if not ordered:
            return None
        p50, p95, p99 = (quantile(ordered, q) for q in QUANTILES)
        return cls(len(ordered), p50, p95, p99, ordered[-1])


def by_labels(series: Mapping[LabelSet, Samples]) -> dict[LabelSet, Distribution]:
    """The distribution of each series, keyed by its label set (series without a value left out)."""
    out = {}
    for labels, samples in series.items():
        dist = Distribution.of(v for _, v in samples)
        if dist is not None:
            out[labels] = dist
    return out


def overall(series: Mapping[LabelSet, Samples]) -> Distribution | None:
    return Distribution.of(v for samples in series.values() for _, v in samples)
