"""Metrics derived from the records themselves: RED for HTTP, DB latency and timeouts, logins, audit, volume.

Label values are bounded: routes are templates, status codes become classes, and any label that sees more
than ``max_values`` distinct values folds the rest into ``other``. No user ids or IP addresses are labels.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from exporters import schema

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"})


_SEEN_LIMIT = 10_000  # distinct raw value sets of requests remembered; past it, each one is worked out again


class _Bounded:
    """Remembers at most ``limit`` distinct values; later new values become ``other``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: set[str] = set()

    def __call__(self, value: Any) -> str:
        text = "" if value is None else str(value)
        if text in self.seen:
            return text
        if len(self.seen) >= self.limit:
            return "other"
        self.seen.add(text)
        return text


class RecordMetrics:
    """Observe records (or events) and update Prometheus metrics; children are made once and held."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY, max_values: int = 100) -> None:
        kw: dict[str, Any] = {"registry": registry}
        self.records = Counter("log_records_total", "Log records by service, type and level.",
                               ["service", "log_type", "level"], **kw)
        self.requests = Counter("http_server_requests_total", "HTTP requests served.",
                                ["service", "route", "method", "status_class"], **kw)
        self.latency = Histogram("http_server_request_duration_seconds", "HTTP request duration.",
                                 ["service", "route", "method"], buckets=LATENCY_BUCKETS, **kw)
        self.errors = Counter("app_errors_total", "Errors logged, by exception type.",
                              ["service", "error_type"], **kw)
        self.db_latency = Histogram("db_query_duration_seconds", "Database query duration.",
                                    ["service", "operation"], buckets=LATENCY_BUCKETS, **kw)
        self.db_timeouts = Counter("db_query_timeouts_total", "Database queries that timed out.",
                                   ["service", "operation"], **kw)
        self.logins = Counter("auth_login_attempts_total", "Login attempts by outcome and reason.",
                              ["service", "outcome", "reason"], **kw)
        self.permission_changes = Counter("audit_permission_changes_total", "Permission changes by role.",
                                          ["service", "role"], **kw)
        self.ui_actions = Counter("ui_actions_total", "User actions in the tracking UI.",
                                  ["service", "action"], **kw)
        self.lifecycle = Counter("service_lifecycle_events_total", "Service start-ups and shutdowns.",
                                 ["service", "phase"], **kw)
        self.cpu = Gauge("service_cpu_utilization_ratio", "CPU use of the service process (1 = one core).",
                         ["service"], **kw)
        self.memory = Gauge("service_memory_bytes", "Resident memory of the service process.", ["service"], **kw)
        self.open_files = Gauge("service_open_files", "Open file descriptors of the service process.",
                                ["service"], **kw)
        self.threads = Gauge("service_threads", "Threads of the service process.", ["service"], **kw)
        self._bound = {name: _Bounded(max_values) for name in ("route", "error_type", "reason", "role", "action",
                                                               "operation", "service")}
        self._children: dict[tuple[Any, ...], Any] = {}
        self._requests_seen: dict[tuple[Any, ...], tuple[Any, Any, Any]] = {}

    def _child(self, metric: Any, *values: str) -> Any:
        key = (id(metric), *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def observe(self, event: dict[str, Any]) -> None:
        """Update metrics from one event dict (the schema's field names)."""
        if event.get(schema.EVENT_NAME) == "http.request" and schema.ERROR_TYPE not in event:
            # A service's most frequent record: its three children are looked up once per distinct set of values.
            key = (event.get("service", "unknown"), event.get("log_type"), event.get("level"),
                   event.get(schema.HTTP_ROUTE), event.get(schema.HTTP_METHOD), event.get(schema.HTTP_STATUS))
            try:
                children = self._requests_seen.get(key)
            except TypeError:  # an unhashable value: the general path below copes with it
                children = key = None
            if children is None:
                children = self._request_children(event)
                if key is not None and len(self._requests_seen) < _SEEN_LIMIT:
                    self._requests_seen[key] = children
            records, requests, latency = children
            records.inc()
            requests.inc()
            latency.observe(float(event.get(schema.HTTP_DURATION, 0.0)))
            return
        self._observe(event)

    def _request_children(self, event: dict[str, Any]) -> tuple[Any, Any, Any]:
        service = self._bound["service"](event.get("service", "unknown"))
        route = self._bound["route"](event.get(schema.HTTP_ROUTE, ""))
        method = str(event.get(schema.HTTP_METHOD, "")).upper()
        method = method if method in _METHODS else "_OTHER"
        status = int(event.get(schema.HTTP_STATUS, 0) or 0)
        return (self._child(self.records, service, str(event.get("log_type", "")), str(event.get("level", ""))),
                self._child(self.requests, service, route, method, schema.status_class(status)),
                self._child(self.latency, service, route, method))

    def _observe(self, event: dict[str, Any]) -> None:
        service = self._bound["service"](event.get("service", "unknown"))
        self._child(self.records, service, str(event.get("log_type", "")), str(event.get("level", ""))).inc()
        name = event.get(schema.EVENT_NAME)
        if name == "http.request":
            _, requests, latency = self._request_children(event)
            requests.inc()
            latency.observe(float(event.get(schema.HTTP_DURATION, 0.0)))
        elif name == "db.query":
            op = self._bound["operation"](event.get(schema.DB_OPERATION, ""))
            self._child(self.db_latency, service, op).observe(float(event.get(schema.DB_DURATION, 0.0)))
            if event.get(schema.DB_TIMEOUT):
                self._child(self.db_timeouts, service, op).inc()
        elif name == "auth.login":
            outcome = "success" if event.get(schema.AUTH_OUTCOME) == "success" else "failure"
            reason = self._bound["reason"](event.get(schema.AUTH_REASON, "") if outcome == "failure" else "")
            self._child(self.logins, service, outcome, reason).inc()
        elif name == "permission.change":
            self._child(self.permission_changes, service, self._bound["role"](event.get(schema.AUTH_ROLE, ""))).inc()
        elif name == "ui.action":
            self._child(self.ui_actions, service, self._bound["action"](event.get(schema.UI_ACTION, ""))).inc()
        elif name in ("service.start", "service.stop"):
            self._child(self.lifecycle, service, name.split(".", 1)[1]).inc()
        elif name == "process.usage":
            self._child(self.cpu, service).set(float(event.get(schema.CPU, 0.0)))
            self._child(self.memory, service).set(float(event.get(schema.MEMORY, 0)))
            self._child(self.open_files, service).set(float(event.get(schema.OPEN_FILES, 0)))
            self._child(self.threads, service).set(float(event.get(schema.THREADS, 0)))
        if schema.ERROR_TYPE in event:
            self._child(self.errors, service, self._bound["error_type"](event[schema.ERROR_TYPE])).inc()


class MetricsHandler(logging.Handler):
    """A logging.Handler that feeds :class:`RecordMetrics`; attach it beside LokiHandler."""

    def __init__(self, metrics: RecordMetrics | None = None, service: str | None = None,
                 env: str | None = None, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        from exporters.formatter import JsonFormatter

        self.metrics = metrics or default_metrics()
        self._events = JsonFormatter(service=service, env=env, redactor=False, chain=False,
                                     code_origin_level=logging.CRITICAL + 1)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.metrics.observe(self._events.event(record))
        except Exception:
            self.handleError(record)


_DEFAULT: RecordMetrics | None = None


def default_metrics() -> RecordMetrics:
    """The process-wide RecordMetrics on prometheus_client's default registry (made on first use)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = RecordMetrics()
    return _DEFAULT


def serve(port: int = 9464, addr: str = "127.0.0.1") -> None:
    """Serve /metrics on a standalone HTTP server thread (multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=addr, registry=_exposition_registry())


def wsgi_app() -> Any:
    """A WSGI app serving /metrics, for mounting in Flask/Django or gunicorn."""
    from prometheus_client import make_wsgi_app

    return make_wsgi_app(registry=_exposition_registry())


def asgi_app() -> Any:
    """An ASGI app serving /metrics, for mounting in FastAPI/Starlette."""
    from prometheus_client import make_asgi_app

    return make_asgi_app(registry=_exposition_registry())


def _exposition_registry() -> CollectorRegistry:
    """prometheus-client's multiprocess mode (gunicorn) when PROMETHEUS_MULTIPROC_DIR is set, else the default."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY
