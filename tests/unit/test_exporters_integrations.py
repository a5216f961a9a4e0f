"""The framework glue: structlog, ASGI, OpenTelemetry trace context, fork safety, multiprocess metrics."""

from __future__ import annotations

import asyncio
import json
import logging
import os

import pytest

from exporters import JsonFormatter, LokiHandler, MetricsHandler, RecordMetrics
from exporters.integrations.asgi import TracklogMiddleware
from exporters.testing import FakeTransport


def _logger(name: str, *handlers: logging.Handler) -> logging.Logger:
    log = logging.getLogger(name)
    log.handlers[:] = list(handlers)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    return log


def test_structlog_through_stdlib_reaches_the_loki_handler_in_the_schema():
    structlog = pytest.importorskip("structlog", reason="structlog is an optional integration (dev extra)")
    from exporters.integrations.structlog import TracklogRenderer, to_stdlib

    fake = FakeTransport()
    handler = LokiHandler(transport=fake, service="api", batch_max_wait=0.05)
    _logger("unit.structlog", handler)
    structlog.configure(processors=[structlog.contextvars.merge_contextvars, to_stdlib],
                        logger_factory=structlog.stdlib.LoggerFactory(), cache_logger_on_first_use=False)
    structlog.get_logger("unit.structlog").warning("courier late", **{"courier.id": "c-7", "password": "x1"})
    assert handler.client.flush(5)
    (line,) = fake.lines()
    record = json.loads(line)
    assert (record["message"], record["courier.id"], record["level"]) == ("courier late", "c-7", "warn")
    assert record["password"] == "[REDACTED]"
    structlog.reset_defaults()

    rendered = json.loads(TracklogRenderer(service="api")(None, "info", {"event": "hello", "order.id": "o-1"}))
    assert (rendered["message"], rendered["order.id"], rendered["service"]) == ("hello", "o-1", "api")


def test_asgi_middleware_logs_the_route_template_and_propagates_ids():
    metrics = RecordMetrics(registry=None)
    out: list[dict] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            out.append(json.loads(JsonFormatter(service="api").format(record)))

    log = _logger("unit.asgi", Collect(), MetricsHandler(metrics, service="api"))

    class Route:
        path = "/orders/{id}/track"

    async def app(scope, receive, send):
        scope["route"] = Route()
        logging.getLogger("unit.asgi").info("inside the handler")
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request"}

    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    scope = {"type": "http", "method": "GET", "path": "/orders/17/track", "client": ("203.0.113.5", 5000),
             "headers": [(b"traceparent", f"00-{trace}-00f067aa0ba902b7-01".encode()), (b"x-request-id", b"r-1")]}
    asyncio.run(TracklogMiddleware(app, log)(scope, receive, send))
    inner, request = out
    assert inner["trace_id"] == trace
    assert inner["request.id"] == "r-1"
    assert (request["http.route"], request["http.response.status_code"], request["level"]) == (
        "/orders/{id}/track", 404, "warn")
    headers = dict(sent[0]["headers"])
    assert headers[b"x-request-id"] == b"r-1"
    assert headers[b"traceparent"].startswith(f"00-{trace}-".encode())
    value = metrics.requests.labels("api", "/orders/{id}/track", "GET", "4xx")._value.get()
    assert value == 1


def test_opentelemetry_span_context_lands_in_records():
    trace_api = pytest.importorskip("opentelemetry.trace", reason="OpenTelemetry is optional (dev extra)")
    sdk = pytest.importorskip("opentelemetry.sdk.trace", reason="OpenTelemetry SDK is optional (dev extra)")
    tracer = sdk.TracerProvider().get_tracer("unit")
    formatter = JsonFormatter(service="api")
    with tracer.start_as_current_span("work") as span:
        record = logging.LogRecord("unit.otel", logging.INFO, "", 0, "in a span", (), None)
        event = json.loads(formatter.format(record))
    assert event["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert trace_api.get_current_span().get_span_context().is_valid is False


def test_a_forked_worker_ships_its_own_records_with_its_own_sender():
    fake = FakeTransport()
    handler = LokiHandler(transport=fake, service="api", batch_max_wait=0.05)
    log = _logger("unit.fork", handler)
    log.info("parent before fork")
    assert handler.client.flush(5)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child, as a gunicorn worker: log, flush, report what its transport accepted
        try:
            log.info("child record")
            ok = handler.client.flush(5)
            os.write(write_end, json.dumps({"ok": ok, "lines": fake.lines()}).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    report = json.loads(os.read(read_end, 65536))
    os.waitpid(pid, 0)
    assert report["ok"]
    assert json.loads(report["lines"][-1])["message"] == "child record"
    log.info("parent after fork")
    assert handler.client.flush(5)
    assert [json.loads(line)["message"] for line in fake.lines()] == ["parent before fork", "parent after fork"]
    handler.close()


def test_multiprocess_metrics_aggregate_across_processes(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    script = (
        "from prometheus_client import CollectorRegistry\n"
        "from exporters import RecordMetrics\n"
        "m = RecordMetrics(registry=CollectorRegistry())\n"
        "m.observe({'service': 'api', 'log_type': 'application', 'level': 'info', 'event.name': 'http.request',"
        " 'http.route': '/x', 'http.request.method': 'GET', 'http.response.status_code': 200,"
        " 'http.server.request.duration': 0.01})\n"
    )
    import subprocess
    import sys

    for _ in range(3):  # three "workers"
        subprocess.run([sys.executable, "-c", script], check=True, env=dict(os.environ))
    from exporters.metrics import _exposition_registry

    total = _exposition_registry().get_sample_value(
        "http_server_requests_total", {"service": "api", "route": "/x", "method": "GET", "status_class": "2xx"})
    assert total == 3


def test_request_metrics_through_the_remembered_children_equal_the_general_path():
    from prometheus_client import CollectorRegistry

    fast_registry, general_registry = CollectorRegistry(), CollectorRegistry()
    fast, general = RecordMetrics(fast_registry, max_values=5), RecordMetrics(general_registry, max_values=5)
    events = []
    for i in range(400):
        event = {"service": "api", "log_type": "application", "level": ["info", "warn", "error"][i % 3],
                 "event.name": "http.request", "http.route": f"/r{i % 9}",  # 9 routes: 4 become "other"
                 "http.request.method": ["GET", "post", "BREW"][i % 3], "http.response.status_code": 100 + i % 500,
                 "http.server.request.duration": (i % 17) / 100}
        if i % 50 == 0:
            event["error.type"] = f"E{i % 7}"
        if i % 97 == 0:
            event["http.route"] = ["unhashable"]  # a user's odd value: counted, never raised
        events.append(event)
    for event in events + events:  # the second pass hits the remembered children
        fast.observe(event)
        general._observe(event)

    def samples(registry: CollectorRegistry) -> list[tuple[str, tuple, float]]:
        return sorted((s.name, tuple(sorted(s.labels.items())), s.value)
                      for metric in registry.collect() for s in metric.samples if not s.name.endswith("_created"))

    assert samples(fast_registry) == samples(general_registry)
    assert any(dict(labels).get("route") == "other" for _, labels, _ in samples(fast_registry))
    assert sum(v for name, _, v in samples(fast_registry) if name == "http_server_requests_total") == 800
