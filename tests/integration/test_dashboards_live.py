"""With the simulator running: every panel of every dashboard returns data, and the incidents page the webhook;
a quiet run pages nobody.

Grafana cannot run here, so each panel's queries are executed the way Grafana's /api/ds/query would run them:
variables substituted, then query_range against the real Loki or Prometheus over the simulator's window.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from provisioning import config, provision
from provisioning.render import render
from tests.integration.conftest import ROOT, WebhookReceiver, loki_lines, wait_for

PAGING = {"TrackingApiHighErrorRate", "RepeatedFailedLogins"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::\w+)?\]\]|\$(\w+)")
BUILTINS = {"__interval": "30s", "__rate_interval": "1m", "__range": "15m", "__auto": "30s", "__range_s": "900"}


def _fast_alerting_config(tmp_path: Path, state_dir: Path) -> Path:
    raw = yaml.safe_load((ROOT / "tracklog.yaml").read_text())
    raw["stack"]["state_dir"] = str(state_dir)
    raw["agent"]["positions_file"] = str(tmp_path / "positions.json")
    raw["thresholds"]["api_error_rate_for"] = "20s"
    raw["alertRateWindow"], raw["alertInterval"] = "1m", "10s"
    for point in raw["contact_points"]:
        if point["name"] == "security-slack":
            point["type"] = "webhook"  # the test's receiver reads webhook JSON
    path = tmp_path / "tracklog.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _run_demo(env: str, seconds: float, incidents: bool) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "demo", "--env", env, "--duration", str(seconds), "--day-seconds", "60",
            "--status-every", "0", "--incident-start", "5", "--incident-gap", "15", "--db-slowdown-seconds", "70",
            "--brute-force-seconds", "30", "--incidents" if incidents else "--no-incidents",
            # the tracking page's panels need browser users: a few more actions and JS errors than the default
            "--browser", "--browser-actions-per-minute", "12", "--browser-error-share", "0.3"]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _stop(demo: subprocess.Popen[str]) -> str:
    if demo.poll() is None:
        demo.send_signal(signal.SIGINT)
    out, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0, out
    return out


def _substitute(expr: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        return values.get(name, BUILTINS.get(name, match.group(0)))

    return _VARIABLE.sub(one, expr)


def _has_data(url: str, datasource: str, expr: str, start: float, end: float) -> bool:
    if datasource == "prometheus":
        answer = requests.get(f"{url}/api/v1/query_range", timeout=60,
                              params={"query": expr, "start": start, "end": end, "step": "15s"})
    else:
        answer = requests.get(f"{url}/loki/api/v1/query_range", timeout=60,
                              params={"query": expr, "start": int(start * 1e9), "end": int(end * 1e9),
                                      "step": "15s", "limit": 100})
    assert answer.status_code == 200, f"{expr}\n{answer.text}"
    return any(series.get("values") for series in answer.json()["data"]["result"])


@pytest.fixture
def fast_alerts(stack, tmp_path, monkeypatch):
    receiver = WebhookReceiver()
    monkeypatch.setenv("TRACKLOG_ALERT_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("TRACKLOG_SLACK_WEBHOOK_URL", receiver.url)
    cfg = config.load(_fast_alerting_config(tmp_path, stack.paths.root))
    provision.apply(provision.plan(cfg, out_dir=str(tmp_path / "build")), force=True)
    yield receiver
    receiver.close()
    for name in ("TRACKLOG_ALERT_WEBHOOK_URL", "TRACKLOG_SLACK_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    provision.apply(provision.plan(config.load(ROOT / "tracklog.yaml")), force=True)


def _firing(receiver: WebhookReceiver, env: str) -> set[str]:
    """Alerts that fired for one env (every rule keeps env apart: alertLabels in dashboards/lib/config)."""
    return {a["labels"]["alertname"] for body in receiver.received for a in body.get("alerts", [])
            if a["status"] == "firing" and a["labels"].get("env") == env}


def test_quiet_run_pages_nobody_then_incidents_page_and_every_panel_has_data(
        fast_alerts, prometheus_url, loki_url, tmp_path) -> None:
    receiver = fast_alerts
    run = time.time_ns() % 10**8

    quiet = _run_demo(f"quiet-{run}", 100, incidents=False)
    quiet.wait(timeout=200)
    _stop(quiet)
    assert not _firing(receiver, f"quiet-{run}"), receiver.received

    env = f"live-{run}"
    started = time.time()
    demo = _run_demo(env, 300, incidents=True)
    try:
        fired = wait_for(lambda: _firing(receiver, env) >= PAGING and _firing(receiver, env),
                         timeout=240, interval=2, what="the error-rate and brute-force alerts at the webhook")
        assert {"TrackingApiHighErrorRate", "RepeatedFailedLogins"} <= fired

        trace_lines = loki_lines(loki_url, f'{{env="{env}", service="web"}} |= "trace_id"', since_s=600)
        trace_id = next(line.split('"trace_id":"')[1][:32] for line in trace_lines if '"trace_id":"' in line)
        values = {"env": env, "service": ".*", "log_type": ".*", "level": ".*", "search": "", "trace_id": trace_id}
        cfg = config.load(ROOT / "tracklog.yaml")
        rendered = render(cfg, out_dir=tmp_path / "render")
        queries = []
        for file_name, dashboard in rendered.dashboards.items():
            for panel in dashboard["panels"]:
                for target in panel.get("targets", []):
                    datasource = (target.get("datasource") or panel.get("datasource") or {}).get("uid")
                    if datasource in ("prometheus", "loki") and target.get("expr"):
                        queries.append((f"{file_name}: {panel['title']}", datasource,
                                        _substitute(target["expr"], values)))

        def panels_without_data() -> list[str]:
            return [f"{where}: {expr}" for where, datasource, expr in queries
                    if not _has_data(prometheus_url if datasource == "prometheus" else loki_url, datasource, expr,
                                     started - 60, time.time())]

        # The alerts can fire before the last incident (the brute force ends in a success) has happened:
        # poll until every panel has data, or report the ones still empty.
        deadline = time.monotonic() + 150
        empty = panels_without_data()
        while empty and time.monotonic() < deadline:
            time.sleep(5)
            empty = panels_without_data()
        assert not empty, "panels without data:\n" + "\n".join(empty)
    finally:
        _stop(demo)


def test_demo_prints_alerts_it_receives(stack) -> None:
    port = config.load(ROOT / "tracklog.yaml").stack.ports["alertmanager_webhook"]
    demo = subprocess.Popen([sys.executable, "-m", "demo", "--duration", "20", "--no-incidents", "--status-every", "0",
                             "--env", f"print-{os.getpid()}"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)

    def deliver() -> bool:
        try:
            return requests.post(f"http://127.0.0.1:{port}/alerts", timeout=2, json={"alerts": [{
                "status": "firing", "labels": {"alertname": "DemoPrinterCheck", "severity": "warning"},
                "annotations": {"summary": "printed"}}]}).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(deliver, timeout=30, what="the demo's alert printer")
    finally:
        out = _stop(demo)
    assert "ALERT FIRING DemoPrinterCheck" in out
