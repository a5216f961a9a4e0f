"""Metrics derived from the browser's records: web vitals by page and the page's own timings (``map.load``).

Errors, user actions and record counts are derived by :class:`exporters.RecordMetrics` from the same records
(``app_errors_total``, ``ui_actions_total``, ``log_records_total``); this adds what only a browser measures.
Pages are URL paths (never query strings), and every label is bounded as RecordMetrics bounds its own.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

from exporters import schema
from exporters.integrations.faro import mapping
from exporters.metrics import _Bounded

# Core Web Vitals' "good" thresholds sit inside these: LCP 2.5 s, INP 200 ms, FCP 1.8 s, TTFB 0.8 s.
VITAL_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.8, 2.5, 3.0, 4.0, 6.0, 10.0)
CLS_BUCKETS = (0.01, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0)
TIMING_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
OUTCOMES = ("accepted", "duplicate", "unauthorized", "forbidden_origin", "rate_limited", "too_large", "bad_request")
_MS_VITALS = frozenset({"lcp", "fcp", "ttfb", "inp", "fid"})


class FaroMetrics:
    """Observe the collector's records; children are made once and held."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY, max_values: int = 100) -> None:
        kw: dict[str, Any] = {"registry": registry}
        self.vitals = Histogram("browser_web_vital_seconds", "Web vitals measured in browsers (LCP, INP, FCP, TTFB).",
                                ["service", "page", "vital"], buckets=VITAL_BUCKETS, **kw)
        self.cls = Histogram("browser_cumulative_layout_shift", "Cumulative layout shift measured in the browser.",
                             ["service", "page"], buckets=CLS_BUCKETS, **kw)
        self.timings = Histogram("browser_timing_seconds", "The page's own timings (measurement values named *_ms).",
                                 ["service", "measurement", "name"], buckets=TIMING_BUCKETS, **kw)
        self.payloads = Counter("browser_collector_payloads_total", "Faro payloads taken or refused, by outcome.",
                                ["outcome"], **kw)
        self._outcomes = {outcome: self.payloads.labels(outcome) for outcome in OUTCOMES}
        self._bound = {name: _Bounded(max_values) for name in ("service", "page", "measurement", "name")}
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *values: str) -> Any:
        key = (id(metric), *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def outcome(self, outcome: str) -> None:
        """Count one payload by what the collector did with it (``accepted``, ``rate_limited`` ...)."""
        child = self._outcomes.get(outcome)
        (child or self.payloads.labels("other")).inc()

    def observe(self, fields: dict[str, Any]) -> None:
        """Update the metrics from one record's fields (no-op for records that are not measurements)."""
        if fields.get(schema.EVENT_NAME) != "browser.measurement":
            return
        service = self._bound["service"](fields.get("service", "unknown"))
        vital = fields.get(mapping.WEB_VITAL)
        value = fields.get(mapping.WEB_VITAL_VALUE)
        if isinstance(vital, str) and isinstance(value, int | float):
            page = self._bound["page"](fields.get(schema.URL_PATH, ""))
            if vital == "cls":
                self._child(self.cls, service, page).observe(float(value))
            elif vital in _MS_VITALS:
                self._child(self.vitals, service, page, vital).observe(float(value) / 1000.0)
            return
        kind = self._bound["measurement"](fields.get(mapping.MEASUREMENT_TYPE, ""))
        for name, number in (fields.get(mapping.MEASUREMENT_VALUES) or {}).items():
            if name.endswith("_ms"):
                label = self._bound["name"](name[:-3])
                self._child(self.timings, service, kind, label).observe(float(number) / 1000.0)


_DEFAULT: FaroMetrics | None = None


def default_faro_metrics() -> FaroMetrics:
    """The process-wide FaroMetrics on prometheus_client's default registry (made on first use)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = FaroMetrics()
    return _DEFAULT
