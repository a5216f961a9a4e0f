"""``thresholds:`` of tracklog.yaml: the numbers and durations the alert rules, the dashboards' threshold lines and
``audit detect`` share, typed and checked at load time (every problem with its file:line)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from provisioning.timerange import NS, TimeRangeError, parse_duration

# The defaults are those of dashboards/lib/config.libsonnet (the library renders on its own with them); a key
# tracklog.yaml leaves out keeps its default, one it does not know is a problem.


@dataclass(frozen=True)
class Thresholds:
    api_error_rate_percent: float = 1  # tracking API: share of 5xx responses, in percent, ...
    api_error_rate_for: str = "5m"  # ... sustained this long
    api_p95_latency_seconds: float = 0.5  # tracking API: p95 latency per route, ...
    api_p95_latency_for: str = "10m"  # ... sustained this long
    db_timeouts_per_minute: float = 5  # per service and operation, ...
    db_timeouts_for: str = "2m"  # ... sustained this long
    failed_logins_per_ip: int = 10  # failures from one client address within failed_logins_window
    failed_logins_window: str = "5m"
    failures_before_success: int = 3  # failures of one user before a success worth a finding
    impossible_travel_hours: float = 2  # two logins of one user from different countries closer than this
    exporter_dropped_records: int = 1  # records the exporters dropped within exporter_dropped_window
    exporter_dropped_window: str = "5m"
    silent_service_minutes: float = 10  # a service that logged nothing for this long

    def ns(self, key: str) -> int:
        """A duration threshold in nanoseconds."""
        return parse_duration(getattr(self, key))

    @property
    def impossible_travel_ns(self) -> int:
        return int(self.impossible_travel_hours * 3600 * NS)


_FIELDS = {f.name: f for f in dataclasses.fields(Thresholds)}
DURATIONS = tuple(name for name, f in _FIELDS.items() if f.type == "str")


def read_thresholds(r: Any, raw: Any) -> Thresholds:
    """The ``thresholds`` section; its problems go to ``r`` (a yamlreader.Reader) with their lines."""
    node = r.mapping(raw, "thresholds", "thresholds")
    values: dict[str, Any] = {}
    for key, value in node.items():
        where = f"thresholds.{key}"
        if key not in _FIELDS:
            r.problem(node, key, where, f"unknown threshold; known: {', '.join(_FIELDS)}")
            continue
        problem = problem_of(key, value)
        if problem:
            r.problem(node, key, where, problem)
        else:
            values[key] = _typed(key, value)
    return Thresholds(**values)


def problem_of(key: str, value: Any) -> str:
    """What is wrong with ``value`` for threshold ``key`` ('' when nothing)."""
    if key in DURATIONS:
        if not isinstance(value, str):
            return f"must be a duration like 5m or 1h30m, got {value!r}"
        try:
            parse_duration(value)
        except TimeRangeError as exc:
            return str(exc)
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number, got {value!r}"
    if value <= 0:
        return f"must be a positive number, got {value!r}"
    if _FIELDS[key].type == "int" and value != int(value):
        return f"must be a whole number, got {value!r}"
    return ""


def _typed(key: str, value: Any) -> Any:
    return int(value) if _FIELDS[key].type == "int" else value


def replaced(thresholds: Thresholds, key: str, value: Any) -> Thresholds:
    """``thresholds`` with ``key`` set to ``value``; ValueError says what is wrong."""
    if key not in _FIELDS:
        raise ValueError(f"unknown threshold {key!r}; known: {', '.join(_FIELDS)}")
    problem = problem_of(key, value)
    if problem:
        raise ValueError(f"thresholds.{key}: {problem}")
    return dataclasses.replace(thresholds, **{key: _typed(key, value)})
