"""`tracklog apply` into the real stack: rules load, a second apply changes nothing, and alerts reach a webhook."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client import CollectorRegistry, start_http_server

from exporters import LokiHandler, RecordMetrics, schema
from provisioning import config, provision
from provisioning.errors import RenderError
from provisioning.stacktarget import StackTarget
from tests.integration.conftest import ROOT, WebhookReceiver, wait_for


def _config_file(tmp_path: Path, state_dir: Path, **changes: object) -> Path:
    raw = yaml.safe_load((ROOT / "tracklog.yaml").read_text())
    raw["stack"]["state_dir"] = str(state_dir)
    raw["agent"]["positions_file"] = str(tmp_path / "positions.json")
    for key, value in changes.items():
        raw[key] = value
    path = tmp_path / "tracklog.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture
def restore_shipped_config(stack, monkeypatch) -> Iterator[None]:
    """Whatever a test applies, the stack gets the shipped tracklog.yaml's rules and routing back afterwards."""
    yield
    for name in ("TRACKLOG_ALERT_WEBHOOK_URL", "TRACKLOG_SLACK_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    provision.apply(provision.plan(config.load(ROOT / "tracklog.yaml")), force=True)


def test_apply_loads_rules_and_a_second_apply_changes_nothing(stack, prometheus_url, loki_url, tmp_path,
                                                              monkeypatch, restore_shipped_config) -> None:
    monkeypatch.setenv("TRACKLOG_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/never-called")
    cfg = config.load(_config_file(tmp_path, stack.paths.root))
    planned = provision.plan(cfg, out_dir=str(tmp_path / "build"))
    provision.apply(planned, force=True)
    again = provision.plan(cfg, out_dir=str(tmp_path / "build"))
    assert not again.has_changes(), again.text()
    assert "http://127.0.0.1:9/never-called" not in planned.text()  # secrets never printed

    groups = requests.get(f"{prometheus_url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    assert {"tracklog-api", "tracklog-pipeline"} <= {g["name"] for g in groups}
    loaded = wait_for(lambda: requests.get(f"{loki_url}/prometheus/api/v1/rules", timeout=10).json()["data"]["groups"],
                      timeout=40, what="Loki's ruler to load the LogQL rules")
    assert "tracklog-security" in {g["name"] for g in loaded}
    status = requests.get(f"{cfg.endpoints.alertmanager}/api/v2/status", timeout=10).json()
    assert "security-slack" in status["config"]["original"]


def test_error_rate_and_brute_force_alerts_reach_the_webhook(stack, scrape_target_dir, loki_url, tmp_path,
                                                             monkeypatch, restore_shipped_config) -> None:
    receiver = WebhookReceiver()
    monkeypatch.setenv("TRACKLOG_ALERT_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("TRACKLOG_SLACK_WEBHOOK_URL", receiver.url)
    raw_points = yaml.safe_load((ROOT / "tracklog.yaml").read_text())["contact_points"]
    for point in raw_points:
        if point["name"] == "security-slack":
            point["type"] = "webhook"  # the test receives security alerts as JSON too
    thresholds = {**yaml.safe_load((ROOT / "tracklog.yaml").read_text())["thresholds"], "api_error_rate_for": "10s"}
    cfg = config.load(_config_file(tmp_path, stack.paths.root, contact_points=raw_points, thresholds=thresholds,
                                   alertRateWindow="30s", alertInterval="10s"))
    provision.apply(provision.plan(cfg, out_dir=str(tmp_path / "build")), force=True)

    env = f"alert-test-{time.time_ns() % 10**8}"  # alerts keep envs apart: other tests' alerts are not ours
    # 5% of tracking-api's requests fail, scraped by the real Prometheus.
    registry = CollectorRegistry()
    metrics = RecordMetrics(registry=registry)
    server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    target = scrape_target_dir / f"alert-test-{os.getpid()}.json"
    target.write_text(json.dumps([{"targets": [f"127.0.0.1:{server.server_address[1]}"],
                                   "labels": {"service": "tracking-api", "env": env}}]))
    # A brute-force run: 15 failed logins from one foreign address, into the real Loki.
    handler = LokiHandler(loki_url, service="auth", env=env, batch_max_wait=0.1)
    log = logging.getLogger("tests.bruteforce")
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False
    attacker = f"185.220.{time.time_ns() % 200}.34"
    for i in range(15):
        schema.login_attempt(log, user_id=f"user{i % 4}", outcome="failure", reason="bad_password",
                             client_address=attacker, country="RU")
    assert handler.client.flush(10)

    def alerts() -> dict[str, dict]:
        for i in range(20):
            status = 503 if i == 0 else 200
            metrics.observe({"service": "tracking-api", "log_type": "application", "level": "info",
                             "event.name": "http.request", "http.route": "/orders/{id}/track",
                             "http.request.method": "GET", "http.response.status_code": status,
                             "http.server.request.duration": 0.01})
        found = {a["labels"]["alertname"]: a for body in receiver.received for a in body.get("alerts", [])
                 if a["status"] == "firing" and a["labels"].get("env") == env}
        return found if {"TrackingApiHighErrorRate", "RepeatedFailedLogins"} <= set(found) else {}

    try:
        fired = wait_for(alerts, timeout=180, interval=1, what="both alerts at the webhook")
        assert fired["RepeatedFailedLogins"]["labels"]["client_address"] == attacker
        assert fired["RepeatedFailedLogins"]["labels"]["team"] == "security"
        assert fired["TrackingApiHighErrorRate"]["labels"]["severity"] == "critical"
        assert "5xx" in fired["TrackingApiHighErrorRate"]["annotations"]["summary"]
    finally:
        target.unlink(missing_ok=True)
        server.shutdown()
        handler.close()
        receiver.close()


def test_validation_failure_writes_nothing(stack, tmp_path, monkeypatch) -> None:
    # tracklog.yaml loads (a Jsonnet knob is not typed in Python), but the rules it makes do not parse.
    cfg = config.load(_config_file(tmp_path, stack.paths.root, alertRateWindow="5 minutes"))
    before = {path: path.read_bytes() for path in StackTarget(cfg, _dummy_rendered(tmp_path)).files().values()
              if path.exists()}
    with pytest.raises((provision.ValidationFailed, RenderError)) as caught:
        provision.plan(cfg, out_dir=str(tmp_path / "build"))
    assert 'not a duration like 30s, 5m, 24h, 30d, 4w or 1y: "5 minutes"' in str(caught.value)
    after = {path: path.read_bytes() for path in before}
    assert after == before


def _dummy_rendered(tmp_path: Path):
    from provisioning.render import Rendered

    return Rendered(tmp_path, "none", 0.0, {}, {}, {}, [], {})  # no rules: only the files' paths are read
