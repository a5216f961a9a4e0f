"""Exact percentiles over all the values (no histogram buckets), interpolated as Prometheus' quantile_over_time does."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

QUANTILES = (0.5, 0.95, 0.99)


def percentile(ordered: Sequence[float], q: float) -> float:
    """The q-quantile (0 <= q <= 1) of ascending values, linearly interpolated between the closest ranks.

    Raises:
        ValueError: no values, or q outside [0, 1].
    """
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q} is outside [0, 1]")
    rank = q * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (rank - low) * (ordered[high] - ordered[low])


@dataclass(frozen=True)
class Summary:
    """Count and percentiles of one group's durations, in milliseconds."""

    key: str
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def summarize(key: str, seconds: Iterable[float]) -> Summary:
    """Summarize durations given in seconds; the percentiles are in milliseconds."""
    ordered = sorted(seconds)
    if not ordered:
        return Summary(key, 0, math.nan, math.nan, math.nan, math.nan)
    p50, p95, p99 = (percentile(ordered, q) * 1000 for q in QUANTILES)
    return Summary(key, len(ordered), p50, p95, p99, ordered[-1] * 1000)
