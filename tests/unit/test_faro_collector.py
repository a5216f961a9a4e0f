"""The Faro collector against payloads the real SDK sent from headless Chromium (tests/unit/data/faro/README.md).

Each test drives the ASGI app directly and ships through a real LokiHandler into a fake transport, so what is
checked is the line Loki would store: log type, fields, redaction and labels.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from exporters import LokiHandler
from exporters.integrations.faro import CollectorSettings, FaroCollector, FaroMetrics
from exporters.testing import FakeTransport

DATA = Path(__file__).parent / "data" / "faro"
ORIGIN = "http://127.0.0.1:8701"
KEY = "test-app-key"


def captured(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text())


FIRST = captured("sdk-2.12.1-first-batch.json")
TRACES = captured("sdk-2.12.1-traces.json")
VITALS = captured("sdk-2.12.1-late-vitals.json")


class Harness:
    """A collector whose logger ships through a LokiHandler into a FakeTransport."""

    def __init__(self, **settings: Any) -> None:
        self.fake = FakeTransport()
        self.handler = LokiHandler(transport=self.fake, service="collector", batch_max_wait=0.05)
        self.logger = logging.getLogger(f"test.faro.{id(self)}")
        self.logger.propagate = False
        self.logger.setLevel(logging.INFO)
        self.logger.addHandler(self.handler)
        self.registry = CollectorRegistry()
        options: dict[str, Any] = {"app_keys": {KEY: "tracking-web"}, "allowed_origins": (ORIGIN,), **settings}
        self.app = FaroCollector(CollectorSettings(**options), logger=self.logger,
                                 metrics=FaroMetrics(registry=self.registry))

    def post(self, capture: dict[str, Any], body: bytes | None = None, **headers: str) -> tuple[int, dict, bytes]:
        sent = {k.lower(): v for k, v in capture["headers"].items()}
        sent.update({k.replace("_", "-").lower(): v for k, v in headers.items()})
        data = json.dumps(capture["body"]).encode() if body is None else body
        return call(self.app, "POST", capture["path"], {k: v for k, v in sent.items() if v is not None}, data)

    def events(self) -> list[dict[str, Any]]:
        self.handler.flush()
        return [json.loads(line) for line in self.fake.lines()]

    def close(self) -> None:
        self.logger.removeHandler(self.handler)
        self.handler.close()


def call(app: Any, method: str, path: str, headers: dict[str, str], body: bytes = b"",
         client: tuple[str, int] = ("203.0.113.7", 50000), chunk: int = 0) -> tuple[int, dict, bytes]:
    """Drive an ASGI app once; the status, the response headers and the body."""
    parts = [body[i:i + chunk] for i in range(0, len(body), chunk)] if chunk and body else [body]
    messages = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]
    out: dict[str, Any] = {"headers": {}, "body": b""}

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            out["body"] += message.get("body", b"")

    scope = {"type": "http", "method": method, "path": path, "root_path": "", "client": client,
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    asyncio.run(app(scope, receive, send))
    return out["status"], out["headers"], out["body"]


@pytest.fixture
def harness() -> Any:
    made = Harness()
    yield made
    made.close()


def by_name(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e.get("ui.action") or e.get("web_vital.name") or e.get("measurement.type") or e["event.name"]: e
            for e in events}


def test_user_actions_are_audit_records_with_user_and_session(harness: Harness) -> None:
    status, headers, _ = harness.post(FIRST)
    assert status == 202
    assert headers["access-control-allow-origin"] == ORIGIN
    actions = [e for e in harness.events() if e["log_type"] == "audit"]
    assert [e["ui.action"] for e in actions] == ["map.open", "map.refresh", "settings.location.change"]
    for event in actions:
        assert event["event.name"] == "ui.action"
        assert event["service"] == "tracking-web"
        assert event["user.id"] == "u-17"
        assert event["user.name"] == "dispatcher-17"
        assert event["faro.session"] == "25VRsU1SAq"
        assert event["url.path"] == "/index.html"
        assert event["event.domain"] == "tracking"
        assert event["client.address"] == "203.0.113.7"
        assert {"chain.seq", "chain.hash"} <= event.keys()  # audit records are hash-chained like the backend's
    assert actions[0]["event.attributes"] == {"map_id": "berlin-center", "zoom": "12"}


def test_faro_own_events_are_application_records(harness: Harness) -> None:
    harness.post(FIRST)
    names = [e["event.name"] for e in harness.events() if e["log_type"] == "application"
             and e["event.name"].startswith("browser.") and e.get("event.domain") == "browser"]
    assert names[:2] == ["browser.session_start", "browser.faro.performance.navigation"]


def test_js_exception_is_an_application_error_with_stack_and_function(harness: Harness) -> None:
    harness.post(FIRST)
    errors = [e for e in harness.events() if e["event.name"] == "error"]
    assert len(errors) == 2  # the one caught in the map.refresh span and the uncaught one
    for error in errors:
        assert error["log_type"] == "application"
        assert error["level"] == "error"
        assert error["error.type"] == "TypeError"
        assert error["error.message"].startswith("Cannot read properties of")
        assert error["code.function"]
        assert error["code.function"] != "(browser)"
        assert error["code.filepath"] == "http://127.0.0.1:8701/page.bundle.js"
        assert isinstance(error["code.lineno"], int)
        assert isinstance(error["code.column"], int)
        assert error["exception.stacktrace"].startswith("TypeError: Cannot read")
        assert f"at {error['code.function']} (http://127.0.0.1:8701/page.bundle.js:" in error["exception.stacktrace"]
    assert {e.get("trace_id") for e in errors} == {"3aa0e006138fc0243242d0a36b380e6e", None}


def test_logs_keep_the_browser_level_and_are_redacted(harness: Harness) -> None:
    harness.post(FIRST)
    logs = [e for e in harness.events() if e["event.name"] == "browser.log"]
    assert [(e["level"], e["message"]) for e in logs] == [
        ("info", "courier list loaded 12"), ("warn", "slow tile server for user [REDACTED:email]")]
    assert logs[0]["log.context"] == {"token": "[REDACTED]"}
    assert logs[1]["code.function"] == "(browser)"  # not the collector's own function


def test_nothing_personal_reaches_the_line(harness: Harness) -> None:
    harness.post(FIRST)
    harness.post(TRACES)
    harness.events()
    lines = "\n".join(harness.fake.lines())
    assert "dispatcher17@example.com" not in lines
    assert "+49 30 12345678" not in lines  # the phone number in settings.location.change's attributes
    assert "[REDACTED:phone]" in lines


def test_web_vitals_and_page_timings_feed_records_and_metrics(harness: Harness) -> None:
    harness.post(FIRST)
    harness.post(VITALS)
    found = by_name([e for e in harness.events() if e["event.name"] == "browser.measurement"])
    assert found["lcp"]["web_vital.value"] == 116
    assert found["lcp"]["web_vital.rating"] == "good"
    assert found["fcp"]["measurement.type"] == "web-vitals"
    assert found["map.load"]["measurement.values"]["tiles"] == 24
    sample = harness.registry.get_sample_value
    assert sample("browser_web_vital_seconds_count", {"service": "tracking-web", "page": "/index.html",
                                                      "vital": "lcp"}) == 1
    assert sample("browser_web_vital_seconds_sum", {"service": "tracking-web", "page": "/index.html",
                                                    "vital": "lcp"}) == pytest.approx(0.116)
    assert sample("browser_cumulative_layout_shift_count", {"service": "tracking-web", "page": "/index.html"}) == 1
    assert sample("browser_timing_seconds_count", {"service": "tracking-web", "measurement": "map.load",
                                                   "name": "duration"}) == 1
    assert sample("browser_collector_payloads_total", {"outcome": "accepted"}) == 2


def test_spans_keep_the_trace_id_the_api_request_carried(harness: Harness) -> None:
    traceparent = captured("sdk-2.12.1-api-request.json")["headers"]["traceparent"]
    api_trace = traceparent.split("-")[1]
    harness.post(FIRST)
    harness.post(TRACES)
    events = harness.events()
    spans = [e for e in events if e["event.name"] == "browser.span"]
    fetch = next(e for e in spans if e.get("trace_id") == api_trace and e["span.name"] == "GET")
    assert fetch["span_id"] == traceparent.split("-")[2]
    assert fetch["http.request.method"] == "GET"
    assert fetch["http.response.status_code"] == 200
    assert fetch["span.parent_id"] == next(e for e in spans if e["span.name"] == "map.refresh")["span_id"]
    # One user action: the API request, the click's audit record and the JS error share the trace id.
    shared = {e["event.name"] for e in events if e.get("trace_id") == api_trace}
    assert {"ui.action", "error", "browser.span"} <= shared


def test_loki_labels_stay_bounded(harness: Harness) -> None:
    harness.post(FIRST)
    harness.handler.flush()
    labels = {tuple(sorted(lbl.items())) for lbl, _, _ in harness.fake.accepted}
    assert {dict(lbl)["service"] for lbl in labels} == {"tracking-web"}
    assert {k for lbl in labels for k, _ in lbl} == {"service", "env", "log_type", "level"}


def test_preflight_answers_the_headers_the_sdk_asks_for(harness: Harness) -> None:
    asked = captured("sdk-2.12.1-preflight.json")["headers"]
    status, headers, _ = call(harness.app, "OPTIONS", "/collect", {k.lower(): v for k, v in asked.items()})
    assert status == 204
    assert headers["access-control-allow-origin"] == ORIGIN
    allowed = {h.strip() for h in headers["access-control-allow-headers"].split(",")}
    assert set(asked["Access-Control-Request-Headers"].split(",")) <= allowed
    assert "POST" in headers["access-control-allow-methods"]


def test_other_origins_are_refused_without_cors_headers(harness: Harness) -> None:
    status, headers, _ = call(harness.app, "OPTIONS", "/collect", {"origin": "https://evil.example"})
    assert status == 403
    assert "access-control-allow-origin" not in headers
    status, _, body = harness.post(FIRST, origin="https://evil.example")
    assert status == 403
    assert b"origin https://evil.example is not allowed" in body
    assert harness.events() == []


@pytest.mark.parametrize("key", ["wrong-key", None])
def test_app_key_is_required(harness: Harness, key: str | None) -> None:
    status, headers, body = harness.post(FIRST, x_api_key=key)
    assert status == 401
    assert b"x-api-key" in body
    assert headers["access-control-allow-origin"] == ORIGIN  # so the page can read why
    assert harness.events() == []


def test_payload_size_is_limited_declared_streamed_and_gzipped() -> None:
    small = Harness(max_body_bytes=4096)
    try:
        assert small.post(FIRST)[0] == 413  # Content-Length is not sent by the test: the stream is counted
        body = json.dumps(FIRST["body"]).encode()
        status, _, _ = call(small.app, "POST", "/collect", {"x-api-key": KEY, "content-length": str(len(body))}, body)
        assert status == 413
        status, _, _ = call(small.app, "POST", "/collect", {"x-api-key": KEY}, body, chunk=1000)
        assert status == 413
        bomb = gzip.compress(b"{" + b" " * 100_000 + b"}")
        assert len(bomb) < 4096
        status, _, text = call(small.app, "POST", "/collect", {"x-api-key": KEY, "content-encoding": "gzip"}, bomb)
        assert status == 413
        assert b"decompresses to more than 4096" in text
        vitals = gzip.compress(json.dumps(VITALS["body"]).encode())
        status, _, _ = call(small.app, "POST", "/collect", {"x-api-key": KEY, "content-encoding": "gzip"}, vitals)
        assert status == 202
        assert {e.get("web_vital.name") for e in small.events()} == {"cls", "lcp"}
    finally:
        small.close()


def test_rate_limit_per_session_answers_429_with_retry_after() -> None:
    limited = Harness(rate=0.5, burst=2)
    try:
        statuses = [limited.post(VITALS, idempotency_key=f"k{i}")[0] for i in range(3)]
        assert statuses == [202, 202, 429]
        status, headers, _ = limited.post(VITALS, idempotency_key="k3")
        assert status == 429
        assert int(headers["retry-after"]) >= 1
        assert "Retry-After" in headers["access-control-expose-headers"]
        assert limited.post(VITALS, idempotency_key="k4", x_faro_session_id="other-session")[0] == 202
        assert limited.app.counts == {"accepted": 3, "rate_limited": 2}
    finally:
        limited.close()


def test_new_session_ids_do_not_escape_the_limit_of_their_address() -> None:
    limited = Harness(rate=100.0, burst=100, address_rate=0.5, address_burst=3)
    try:
        statuses = [limited.post(VITALS, idempotency_key=f"k{i}", x_faro_session_id=f"s{i}")[0] for i in range(4)]
        assert statuses == [202, 202, 202, 429]
        other = call(limited.app, "POST", "/collect", {"x-api-key": KEY}, json.dumps(VITALS["body"]).encode(),
                     client=("198.51.100.9", 40000))
        assert other[0] == 202  # another address has its own budget
    finally:
        limited.close()


def test_behind_a_proxy_the_forwarded_address_is_the_client() -> None:
    proxied = Harness(proxy_hops=1, address_rate=0.5, address_burst=1)
    try:
        body = json.dumps(VITALS["body"]).encode()

        def post(forwarded: str, session: str) -> int:
            headers = {"x-api-key": KEY, "x-faro-session-id": session, "x-forwarded-for": forwarded}
            return call(proxied.app, "POST", "/collect", headers, body, client=("10.0.0.2", 1))[0]

        assert post("198.51.100.1", "s1") == 202
        assert post("198.51.100.2", "s2") == 202  # the proxy's own address is not everyone's budget
        assert post("6.6.6.6, 198.51.100.1", "s3") == 429  # a spoofed first entry does not help: one hop is trusted
        assert {e["client.address"] for e in proxied.events()} == {"198.51.100.1", "198.51.100.2"}
    finally:
        proxied.close()


def test_a_retried_batch_is_logged_once(harness: Harness) -> None:
    assert harness.post(VITALS)[0] == 202
    assert harness.post(VITALS)[0] == 202  # same Idempotency-Key: the SDK retrying after a lost answer
    assert len(harness.events()) == 2
    assert harness.app.counts == {"accepted": 1, "duplicate": 1}


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_bad_bodies_are_400(harness: Harness, body: bytes) -> None:
    status, _, text = harness.post(VITALS, body=body)
    assert status == 400
    assert text.startswith(b"faro collector: not a Faro payload")


def test_hostile_items_become_no_record_not_an_error(harness: Harness) -> None:
    payload = {"meta": {"session": "x", "user": [1], "page": {"url": 5}},
               "events": [None, {"name": 3}, {"name": "map.open", "attributes": {"a": {"nested": 1}, "b": "ok"}}],
               "exceptions": [{"stacktrace": {"frames": "nope"}}, {"type": "Error", "stacktrace": {"frames": [{}]}}],
               "logs": [{"level": "shout", "message": "hi"}, {"message": None}],
               "measurements": [{"type": "x", "values": {"a": "1", "b": float("nan")}}, {"type": "y", "values": []}],
               "traces": {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz", "spanId": "1"}]}]}]}}
    status, _, _ = harness.post(VITALS, body=json.dumps(payload).replace("NaN", "1e999").encode())
    assert status == 202
    events = harness.events()
    assert [e["event.name"] for e in events] == ["ui.action", "error", "error", "browser.log"]
    assert events[0]["event.attributes"] == {"b": "ok"}
    assert events[3]["level"] == "info"


def test_unknown_paths_and_methods(harness: Harness) -> None:
    assert call(harness.app, "POST", "/other", {"x-api-key": KEY})[0] == 404
    assert call(harness.app, "GET", "/collect", {})[0] == 405
    assert call(harness.app, "GET", "/healthz", {})[0] == 200


def test_mounted_under_a_prefix(harness: Harness) -> None:
    body = json.dumps(VITALS["body"]).encode()
    scope_path = {"x-api-key": KEY}
    status, _, _ = call_mounted(harness.app, "/faro/collect", "/faro", scope_path, body)
    assert status == 202
    status, _, _ = call_mounted(harness.app, "/collect", "/collect", scope_path, body)  # mounted at the path itself
    assert status == 202


def call_mounted(app: Any, path: str, root: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
    result: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        result.setdefault("status", message.get("status"))

    scope = {"type": "http", "method": "POST", "path": path, "root_path": root, "client": None,
             "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}
    asyncio.run(app(scope, receive, send))
    return result["status"], {}, b""
