"""Derived metrics end to end: HTTP requests through the WSGI middleware -> /metrics -> the real Prometheus."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from wsgiref.simple_server import WSGIRequestHandler, make_server

import requests
from prometheus_client import CollectorRegistry, start_http_server

from exporters import MetricsHandler, RecordMetrics
from exporters.integrations.wsgi import ROUTE_KEY, TracklogMiddleware
from tests.integration.conftest import prometheus_query, wait_for

SLOW_EVERY = 10  # one request in ten takes 0.9 s of reported time: the p95 lies in the (0.75, 1.0] bucket


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


class _Clock:
    """perf_counter plus an offset the app sets, so chosen requests report 0.9 s without the test sleeping."""

    extra = 0.0

    def __call__(self) -> float:
        return time.perf_counter() + self.extra


CLOCK = _Clock()


def _app(environ, start_response):
    """A tiny tracking API: /orders/<id>/track answers 200, or 503 for ids divisible by 7."""
    order = environ["PATH_INFO"].split("/")[2]
    environ[ROUTE_KEY] = "/orders/{id}/track"
    CLOCK.extra = 0.9 if int(order) % SLOW_EVERY == 0 else 0.0
    status = "503 Service Unavailable" if int(order) % 7 == 0 else "200 OK"
    start_response(status, [("Content-Type", "application/json")])
    return [json.dumps({"order": order}).encode()]


def test_prometheus_gets_request_rate_error_share_and_p95_from_the_records(prometheus_url, scrape_target_dir):
    service = f"it-metrics-{time.time_ns() % 10**8}"
    registry = CollectorRegistry()
    metrics = RecordMetrics(registry=registry)
    logger = logging.getLogger(f"tests.{service}")
    logger.handlers[:] = [MetricsHandler(metrics, service=service)]
    logger.setLevel(logging.INFO)
    logger.propagate = False

    middleware = TracklogMiddleware(_app, logger, clock=CLOCK)
    server = make_server("127.0.0.1", 0, middleware, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    metrics_server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    port = metrics_server.server_address[1]
    target = scrape_target_dir / f"metrics-test-{os.getpid()}.json"
    target.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"], "labels": {"service": service}}]))

    sent = errors = 0
    started = time.monotonic()
    try:
        while time.monotonic() - started < 12:
            CLOCK.extra = 0.0
            answer = requests.get(f"http://127.0.0.1:{server.server_address[1]}/orders/{sent}/track", timeout=5)
            errors += answer.status_code == 503
            assert answer.headers["X-Request-ID"]
            sent += 1
            time.sleep(0.02)
        produced_rate = sent / (time.monotonic() - started)
        rate = wait_for(lambda: prometheus_query(
            prometheus_url, f'sum(rate(http_server_requests_total{{service="{service}"}}[10s]))'),
            what="the request rate")
        measured_rate = float(rate[0]["value"][1])
        assert 0.5 * produced_rate < measured_rate < 1.5 * produced_rate, (measured_rate, produced_rate)

        wait_for(lambda: (r := prometheus_query(prometheus_url,
                                                f'sum(http_server_requests_total{{service="{service}"}})'))
                 and float(r[0]["value"][1]) == sent, timeout=30, what=f"all {sent} requests counted")
        five_xx = prometheus_query(prometheus_url,
                                   f'sum(http_server_requests_total{{service="{service}", status_class="5xx"}})')
        assert float(five_xx[0]["value"][1]) == errors
        p95 = prometheus_query(prometheus_url, "histogram_quantile(0.95, sum by (le) ("
                               f'http_server_request_duration_seconds_bucket{{service="{service}"}}))')
        assert 0.75 < float(p95[0]["value"][1]) <= 1.0
        routes = prometheus_query(prometheus_url,
                                  f'count by (route) (http_server_requests_total{{service="{service}"}})')
        assert [r["metric"]["route"] for r in routes] == ["/orders/{id}/track"]  # the template, never the path
    finally:
        target.unlink(missing_ok=True)
        server.shutdown()
        metrics_server.shutdown()
