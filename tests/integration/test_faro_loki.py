"""The Faro collector over HTTP with the real Loki: the SDK's captured payloads posted as the browser sent them,
read back from Loki; a Loki outage spooled and replayed; one user action's trace in `tracklog trace`.

Each test gives the captured payloads a fresh session id and trace id (same shape, same SDK), so runs do not mix.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client import CollectorRegistry

from exporters import LokiHandler, schema
from exporters.integrations.faro import CollectorSettings, FaroCollector, FaroMetrics
from exporters.integrations.faro.serve import AsgiServer
from provisioning import cli
from tests.integration.conftest import loki_lines, wait_for

DATA = Path(__file__).resolve().parents[1] / "unit" / "data" / "faro"
ORIGIN = "http://127.0.0.1:8701"
KEY = "it-app-key"
CAPTURED_SESSION = "25VRsU1SAq"
CAPTURED_TRACE = "3aa0e006138fc0243242d0a36b380e6e"


def fresh(name: str, session: str, trace: str) -> tuple[dict[str, str], bytes]:
    """A captured request with its session id and the map.refresh trace id replaced (headers, body)."""
    capture = json.loads((DATA / name).read_text())
    body = json.dumps(capture["body"]).replace(CAPTURED_SESSION, session).replace(CAPTURED_TRACE, trace)
    headers = {k: v.replace(CAPTURED_SESSION, session) for k, v in capture["headers"].items()}
    headers["Idempotency-Key"] = uuid.uuid4().hex[:20]
    headers["x-api-key"] = KEY
    return headers, body.encode()


class Collector:
    """FaroCollector on the stdlib server, logging through a LokiHandler to ``loki_url`` (spooling in ``spool``)."""

    def __init__(self, loki_url: str, spool: Path, origin: str = ORIGIN) -> None:
        self.handler = LokiHandler(loki_url, service="faro-collector", spool_dir=spool, spool_name="faro",
                                   batch_max_wait=0.2)
        self.logger = logging.getLogger(f"tracklog.faro.it.{uuid.uuid4().hex[:6]}")
        self.logger.propagate = False
        self.logger.setLevel(logging.INFO)
        self.logger.addHandler(self.handler)
        settings = CollectorSettings(app_keys={KEY: "tracking-web"}, allowed_origins=(origin,))
        self.app = FaroCollector(settings, logger=self.logger, metrics=FaroMetrics(registry=CollectorRegistry()))
        self.server = AsgiServer(self.app, read_limit=settings.max_body_bytes).start()
        self.url = f"http://127.0.0.1:{self.server.port}/collect"
        self.http = requests.Session()  # keep-alive, as the SDK's fetch

    def post(self, headers: dict[str, str], body: bytes) -> requests.Response:
        return self.http.post(self.url, data=body, headers=headers, timeout=10)

    def close(self) -> None:
        self.http.close()
        self.server.close()
        self.logger.removeHandler(self.handler)
        self.handler.close()


@pytest.fixture
def ids() -> tuple[str, str]:
    return f"it{uuid.uuid4().hex[:8]}", uuid.uuid4().hex


@pytest.fixture
def collector(loki_url: str, tmp_path: Path) -> Iterator[Collector]:
    made = Collector(loki_url, tmp_path / "spool")
    yield made
    made.close()


def records(loki_url: str, session: str, expect: int) -> list[dict[str, Any]]:
    def read() -> list[dict[str, Any]]:
        lines = loki_lines(loki_url, f'{{service="tracking-web"}} |= "{session}"', since_s=900)
        return [json.loads(line) for line in lines] if len(lines) >= expect else []
    return wait_for(read, timeout=30, what=f"{expect} records of session {session} in Loki")


def test_captured_sdk_payloads_land_in_loki_with_their_types(collector: Collector, loki_url: str,
                                                             ids: tuple[str, str]) -> None:
    session, trace = ids
    answers = [collector.post(*fresh(name, session, trace)).status_code
               for name in ("sdk-2.12.1-first-batch.json", "sdk-2.12.1-traces.json", "sdk-2.12.1-late-vitals.json")]
    assert answers == [202, 202, 202]
    found = records(loki_url, session, expect=21)
    assert len(found) == 21  # 7 + 2 tracing events, 2 exceptions, 2 logs, 3 + 2 measurements, 3 spans
    by_type: dict[str, list[dict[str, Any]]] = {}
    for record in found:
        by_type.setdefault(record["log_type"], []).append(record)
    assert sorted(r["ui.action"] for r in by_type["audit"]) == ["map.open", "map.refresh", "settings.location.change"]
    assert all(r["user.id"] == "u-17" and r["faro.session"] == session for r in by_type["audit"])
    errors = [r for r in found if r["event.name"] == "error"]
    assert {r["error.type"] for r in errors} == {"TypeError"}
    assert all(r["code.function"] and r["exception.stacktrace"] for r in errors)
    vitals = {r["web_vital.name"] for r in found if "web_vital.name" in r}
    assert vitals == {"fcp", "ttfb", "cls", "lcp"}
    text = "\n".join(json.dumps(r) for r in found)
    assert "dispatcher17@example.com" not in text
    assert "12345678" not in text


def test_refusals_answer_with_clear_status_codes(collector: Collector, ids: tuple[str, str]) -> None:
    session, trace = ids
    headers, body = fresh("sdk-2.12.1-late-vitals.json", session, trace)
    preflight = collector.http.options(collector.url, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,idempotency-key,x-api-key,x-faro-session-id"}, timeout=10)
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert collector.post({**headers, "Origin": "https://elsewhere.example"}, body).status_code == 403
    assert collector.post({**headers, "x-api-key": "nope"}, body).status_code == 401
    assert collector.post(headers, b"{" + b" " * 600_000 + b"}").status_code == 413
    assert collector.post(headers, b"not json").status_code == 400
    answers = [collector.post({**headers, "Idempotency-Key": f"b{i}"}, body) for i in range(40)]
    assert {a.status_code for a in answers} == {202, 429}  # burst 20 at 5/s: the session is held back,
    limited = next(a for a in answers if a.status_code == 429)
    assert int(limited.headers["Retry-After"]) >= 1  # and told when to come back (the SDK waits that long)
    assert limited.headers["Access-Control-Allow-Origin"] == ORIGIN  # a page can read the answer


def test_a_loki_outage_is_spooled_and_replayed(loki_url: str, tmp_path: Path, ids: tuple[str, str]) -> None:
    session, trace = ids
    down = Collector("http://127.0.0.1:9", tmp_path / "spool")  # nothing listens on the discard port
    try:
        assert down.post(*fresh("sdk-2.12.1-first-batch.json", session, trace)).status_code == 202
    finally:
        down.close()  # Loki unreachable: what it holds goes to the spool
    assert any((tmp_path / "spool").rglob("*")), "nothing was spooled"
    back = Collector(loki_url, tmp_path / "spool")  # the next run replays the spool first
    try:
        found = records(loki_url, session, expect=14)
        assert len(found) == 14
    finally:
        back.close()


def test_one_user_action_shares_its_trace_id_with_the_api_request(collector: Collector, loki_url: str,
                                                                   ids: tuple[str, str],
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    session, trace = ids
    for name in ("sdk-2.12.1-first-batch.json", "sdk-2.12.1-traces.json"):
        assert collector.post(*fresh(name, session, trace)).status_code == 202
    # The API served the page's fetch: its middleware took the trace id from the traceparent the page sent.
    api = LokiHandler(loki_url, service="tracking-api", batch_max_wait=0.2)
    api_log = logging.getLogger(f"tracking.api.it.{session}")
    api_log.propagate = False
    api_log.setLevel(logging.INFO)
    api_log.addHandler(api)
    try:
        schema.http_request(api_log, route="/api/orders/{id}", method="GET", status=200, duration_s=0.012,
                            path="/api/orders/o-42", **{schema.TRACE_ID: trace, schema.SPAN_ID: "00f067aa0ba902b7"})
    finally:
        api_log.removeHandler(api)
        api.close()
    records(loki_url, session, expect=19)

    def shown() -> dict[str, Any] | None:
        capsys.readouterr()
        code = cli.main(["trace", trace, "--since", "15m", "--output", "json"])
        out = capsys.readouterr().out
        if code != 0:
            return None
        found = json.loads(out)
        return found if {"tracking-web", "tracking-api"} <= set(found["services"]) else None

    timeline = wait_for(shown, timeout=30, what=f"tracklog trace {trace} showing the browser and the API")
    events = {(r["service"], r["event"]) for r in timeline["records"]}
    assert {("tracking-web", "ui.action"), ("tracking-web", "error"), ("tracking-web", "browser.span"),
            ("tracking-api", "http.request")} <= events


def test_tracklog_collect_runs_alone(loki_url: str, tmp_path: Path, ids: tuple[str, str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from provisioning.commands import collect

    session, trace = ids
    monkeypatch.setenv("TRACKLOG_FARO_APP_KEYS", f"{KEY}=tracking-web")
    monkeypatch.setenv("TRACKLOG_STATE", str(tmp_path / "state"))
    port = _free_port()
    args = cli.build_parser().parse_args(["collect", "--port", str(port), "--allow-origin", ORIGIN])
    stop = threading.Event()
    thread = threading.Thread(target=collect.run, args=(args, stop), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _get(f"{url}/healthz") == 200, timeout=10, what="tracklog collect listening")
        headers, body = fresh("sdk-2.12.1-late-vitals.json", session, trace)
        assert requests.post(f"{url}/collect", data=body, headers=headers, timeout=10).status_code == 202
        assert "browser_web_vital_seconds_bucket" in requests.get(f"{url}/metrics", timeout=10).text
    finally:
        started = time.monotonic()
        stop.set()
        thread.join(15)
    assert not thread.is_alive()
    assert time.monotonic() - started < 10
    assert len(records(loki_url, session, expect=2)) == 2


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> int:
    try:
        return requests.get(url, timeout=2).status_code
    except requests.ConnectionError:
        return 0
