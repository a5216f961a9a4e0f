"""`python -m demo` end to end: four service processes, traffic, incidents, checked in the real Loki and Prometheus."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
import requests

from demo import frontend
from demo.cdp import find_chromium
from demo.directory import BRUTE_FORCE_IP, BY_ID
from demo.incidents import STUFFING_ADDRESSES, STUFFING_AGENT
from provisioning import cli, config
from provisioning.audit import detect as detection
from provisioning.stack import Stack
from tests.integration.conftest import ROOT, loki_lines, prometheus_query, wait_for

SERVICES = ("tracking-api", "courier-ingest", "auth", "web")
# A 100 s run: one simulated day per minute, the DB slowdown from +10 s, brute force from +25 s, the grant at +40 s,
# credential stuffing from +55 s. The browser users have a test of their own (below).
DEMO_ARGS = ["--duration", "100", "--day-seconds", "60", "--incident-start", "10", "--brute-force-seconds", "30",
             "--status-every", "10", "--no-browser"]
# A 45 s quiet run with the headless browser's users at a brisk pace, half of their actions hitting the page's bug.
BROWSER_ARGS = ["--duration", "45", "--no-incidents", "--rate", "0.3", "--browser", "--browser-actions-per-minute",
                "30", "--browser-error-share", "0.5", "--status-every", "15", "--seed", "7"]
CHROMIUM = find_chromium()


def _loki_counts(loki_url: str, query: str, keys: tuple[str, ...]) -> dict[tuple[str, ...], float]:
    response = requests.get(f"{loki_url}/loki/api/v1/query", params={"query": query, "time": time.time_ns()},
                            timeout=30)
    response.raise_for_status()
    results = response.json()["data"]["result"]
    return {tuple(r["metric"].get(k, "") for k in keys): float(r["value"][1]) for r in results}


def _records(loki_url: str, query: str) -> list[dict]:
    return [json.loads(line) for line in loki_lines(loki_url, query, since_s=600)]


@pytest.fixture
def demo_args() -> list[str]:
    return DEMO_ARGS


@pytest.fixture
def demo(stack: Stack, tmp_path: Path, demo_args: list[str]):
    env = f"demo-it-{time.time_ns() % 10**9}"
    out = (tmp_path / "demo.out").open("w+")
    process = subprocess.Popen([sys.executable, "-m", "demo", *demo_args, "--env", env], cwd=ROOT,
                               stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield process, env, tmp_path / "demo.out"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        out.close()


def test_demo_runs_four_instrumented_services_with_incidents_and_stops_cleanly(demo, loki_url, prometheus_url, stack):
    process, env, output = demo
    sel = f'env="{env}"'

    # Incident 2: >= 30 failures from one foreign address within 2 minutes against several accounts, then a success.
    def brute_force() -> list[dict]:
        records = _records(loki_url, f'{{{sel}, service="auth", log_type="security"}} |= "{BRUTE_FORCE_IP}" | json')
        return records if any(r["auth.outcome"] == "success" for r in records) else []

    attempts = wait_for(brute_force, timeout=95, interval=2, what="the brute-force run to end in a success")
    assert process.poll() is None, "the demo must still be running here: " + output.read_text()[-2000:]
    failures = [r for r in attempts if r["auth.outcome"] == "failure"]
    assert len(failures) >= 30
    assert all(r["client.address"] == BRUTE_FORCE_IP and r["client.geo.country_iso_code"] == "RU" for r in attempts)
    assert len({r["user.id"] for r in failures}) >= 3
    assert {r["auth.reason"] for r in failures} >= {"bad_password", "unknown_user"}
    stamps = sorted(r["timestamp"] for r in failures)
    span = _seconds(stamps[-1]) - _seconds(stamps[0])
    assert span < 120, span
    assert [r["auth.outcome"] for r in attempts].count("success") == 1

    # Incident 3: an admin grants `admin` to a normal user.
    query = f'{{{sel}, log_type="audit"}} | json | event_name="permission.change"'
    grants = wait_for(lambda: _records(loki_url, query), timeout=30, what="the permission change")
    grant = grants[0]
    assert grant["service"] == "auth"
    assert grant["auth.role"] == "admin"
    assert "admin" in grant["audit.after"]
    assert "admin" not in grant["audit.before"]

    # Incident 4: credential stuffing spread over many addresses, 1-3 tries each: audit detect names it.
    def stuffing() -> list[dict]:
        records = _records(loki_url, f'{{{sel}, service="auth", log_type="security"}} |= "{STUFFING_AGENT}" | json')
        return records if len({r["client.address"] for r in records}) >= STUFFING_ADDRESSES else []

    tries = wait_for(stuffing, timeout=60, interval=2, what="the credential-stuffing run")
    per_address = Counter(r["client.address"] for r in tries)
    assert max(per_address.values()) <= 3
    found = detection.detect(tries, detection.Thresholds.from_config(config.load(ROOT / "tracklog.yaml").thresholds),
                             detection.Policy.from_security(config.load(ROOT / "tracklog.yaml").security))
    assert "credential_stuffing" in {f.kind for f in found}
    assert "brute_force_address" not in {f.kind for f in found}

    # Every service logs; together they produce all four log types; each has application and system records.
    counts = _loki_counts(loki_url, f"sum by (service, log_type) (count_over_time({{{sel}}}[10m]))",
                          ("service", "log_type"))
    by_service = {s: {t for (svc, t) in counts if svc == s} for s in SERVICES}
    assert {t for types in by_service.values() for t in types} == {"application", "system", "audit", "security"}
    for service in SERVICES:
        assert {"application", "system"} <= by_service[service], (service, by_service[service])
    assert "security" in by_service["auth"]
    assert "audit" in by_service["auth"]
    assert "audit" in by_service["web"]
    events = _loki_counts(loki_url, f'sum by (service, event_name) (count_over_time({{{sel}}} | json [10m]))',
                          ("service", "event_name"))
    for service in SERVICES:
        assert events.get((service, "service.start")) == 1
        assert events.get((service, "process.usage"), 0) >= 1
    for kind in ("http.request", "db.query", "error"):
        assert events.get(("tracking-api", kind), 0) > 0, kind
    assert events.get(("web", "ui.action"), 0) > 0
    assert events.get(("auth", "auth.login"), 0) > 0

    # tracking-api's errors say where they were raised (a named function, not the middleware).
    errors = _records(loki_url, f'{{{sel}, service="tracking-api"}} | json | event_name="error"')
    assert {"load_order", "load_courier_position", "save_eta"} & {e["code.function"] for e in errors}
    assert {e["error.type"] for e in errors} <= {"TrackingTimeout", "DatabaseUnavailable"}

    # One trace spans two services: web's request and the tracking-api request it made.
    web_traces = {r["trace_id"] for r in _records(
        loki_url, f'{{{sel}, service="web"}} | json | event_name="http.request" | http_route=~"/api/orders/.*"')}
    assert web_traces
    shared = wait_for(lambda: [t for t in list(web_traces)[:20] if _records(
        loki_url, f'{{{sel}, service="tracking-api"}} |= "{t}" | json | trace_id="{t}"')],
        timeout=20, what="a trace_id in both web and tracking-api records")
    assert shared

    # Prometheus scrapes each service's /metrics (file_sd); tracking-api answered some 5xx during the DB slowdown.
    five_xx = wait_for(lambda: prometheus_query(prometheus_url, f'sum(http_server_requests_total{{service='
                                                f'"tracking-api", {sel}, status_class="5xx"}})'),
                       timeout=30, what="tracking-api 5xx in Prometheus")
    assert float(five_xx[0]["value"][1]) > 0
    up = prometheus_query(prometheus_url, f'up{{job="tracklog", {sel}}}')
    assert {r["metric"]["service"] for r in up if r["value"][1] == "1"} == set(SERVICES)

    # Ctrl-C: every child stops (logging service.stop), the file_sd files go, and the demo exits 0 within 15 s.
    process.send_signal(signal.SIGINT)
    assert process.wait(15) == 0, output.read_text()[-3000:]
    text = output.read_text()
    assert loki_url in text
    assert prometheus_url in text
    assert "Grafana" in text
    assert BRUTE_FORCE_IP in text
    targets = stack.paths.of("prometheus") / "targets"
    assert not [p for p in targets.glob("demo-*.json") if env in _read(p)]

    def stopped() -> set[str]:
        query = (f'sum by (service) (count_over_time({{{sel}, log_type="system"}} | json '
                 f'| event_name="service.stop" [10m]))')
        services = {s for (s,) in _loki_counts(loki_url, query, ("service",))}
        return services if services == set(SERVICES) else set()

    wait_for(stopped, timeout=15, what="service.stop from all four services")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (`tracklog stack build` installs it)")
@pytest.mark.skipif(frontend.missing() is not None, reason=str(frontend.missing()))
@pytest.mark.parametrize("demo_args", [BROWSER_ARGS])
def test_demo_browser_users_send_actions_and_js_errors_through_faro(demo, loki_url, capsys):
    process, env, output = demo
    sel = f'env="{env}", service="{frontend.BROWSER_SERVICE}"'

    # The page's users, as the collector mounted in web logged them: audit ui.action records with user and session.
    def actions() -> list[dict]:
        records = _records(loki_url, f'{{{sel}, log_type="audit"}} | json')
        return records if {"map.open", "map.refresh"} <= {r["ui.action"] for r in records} else []

    audit = wait_for(actions, timeout=60, interval=2, what="map.open and map.refresh from the browser")
    assert {r["event.name"] for r in audit} == {"ui.action"}
    assert {r["ui.action"] for r in audit} <= {"map.open", "map.refresh", "settings.location.change"}
    for record in audit:
        assert record["faro.session"]
        assert BY_ID[record["user.id"]].address == record["client.address"]  # the user's X-Forwarded-For
        assert record["url.path"] == "/"

    # The follow-the-courier bug: a TypeError naming its function, in the trace of the refresh that hit it, which
    # is also the trace of web's API request and tracking-api's DB queries.
    def joined() -> list[tuple[dict, list[dict]]]:
        errors = _records(loki_url, f'{{{sel}}} | json | event_name="error"')
        found = []
        for error in errors[:10]:
            trace = error.get("trace_id", "")
            backend = _records(loki_url, f'{{env="{env}", service=~"web|tracking-api"}} |= "{trace}" | json '
                                         f'| trace_id="{trace}"') if trace else []
            if {r.get("event.name") for r in backend} >= {"http.request", "db.query"}:
                found.append((error, backend))
        return found

    error, backend = wait_for(joined, timeout=30, interval=2, what="a JS error sharing a trace with the API")[0]
    assert error["error.type"] == "TypeError"
    assert error["code.function"] == "drawHeading"
    assert error["code.filepath"].endswith("/static/tracking.bundle.js")
    assert "drawHeading" in error["exception.stacktrace"]
    request = next(r for r in backend if r["service"] == "web" and r["event.name"] == "http.request")
    assert request["http.route"] == "/api/orders/{id}/refresh"
    action = next(r for r in backend if r["service"] == "web" and r["event.name"] == "ui.action")
    assert (action["ui.action"], action["user.id"]) == ("refresh", error["user.id"])

    capsys.readouterr()
    assert cli.main(["trace", error["trace_id"], "--since", "15m", "--output", "json"]) == 0
    timeline = json.loads(capsys.readouterr().out)
    assert {("tracking-web", "ui.action"), ("tracking-web", "error"), ("web", "http.request"),
            ("tracking-api", "db.query")} <= {(r["service"], r["event"]) for r in timeline["records"]}

    # Web vitals and the page's own map.load timing arrive too; the demo stops cleanly with its browser.
    measured = _records(loki_url, f'{{{sel}}} | json | event_name="browser.measurement"')
    assert "map.load" in {r.get("measurement.type") for r in measured}
    assert process.wait(40) == 0, output.read_text()[-3000:]
    text = output.read_text()
    assert "browser users: one headless" in text
    assert "tracking page http://127.0.0.1:" in text
    assert "follow)" in text.splitlines()[-1]  # the last status line counts the browser's visits and actions


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:  # another test's target, just removed
        return ""


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
