"""The demo's incidents each fire their alert and no other: `tracklog review alerts` on a demo run's history.

`make demo` runs with the shipped tracklog.yaml, whose error-rate alert waits 5 minutes (`for`); a test cannot wait
for that. This run is time-compressed the way the demo is: the incidents are shorter and closer together, and the
rules' `for` durations are shortened in a copy of tracklog.yaml that both the demo (its schedule of expected alerts)
and the review read. The thresholds, windows and everything else are the shipped ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import yaml

from demo.directory import ACCOUNTS, BRUTE_FORCE_IP, PROMOTED_ACCOUNT
from provisioning import cli
from provisioning.stack import Stack
from tests.integration.conftest import ROOT, prometheus_query, wait_for

# One simulated day per 2 minutes; the DB slowdown from +10 s for 90 s, brute force from +25 s, the grant at +40 s,
# credential stuffing from +55 s for 20 s; stopped at +170 s, when the (shortened) error-rate alert has fired.
DEMO_ARGS = ["--duration", "170", "--day-seconds", "120", "--incident-start", "10", "--incident-gap", "15",
             "--db-slowdown-seconds", "90", "--brute-force-seconds", "20", "--stuffing-seconds", "20",
             "--status-every", "30", "--no-browser", "--seed", "11"]
# The `for` durations, compressed (shipped: 5m and 2m); api_p95_latency_for stays 10m, longer than the run.
COMPRESSED_FOR = {"api_error_rate_for": "1m", "db_timeouts_for": "1m"}
EXPECTED = {
    "TrackingApiHighErrorRate": 10,  # alert -> when its incident starts, seconds after the demo's start
    "DatabaseTimeoutsSpiking": 10,
    "RepeatedFailedLogins": 25,
    "AdminPermissionChanged": 40,
    "CredentialStuffing": 55,
}


def _compressed_config(tmp_path: Path) -> Path:
    raw = yaml.safe_load((ROOT / "tracklog.yaml").read_text())
    raw["thresholds"].update(COMPRESSED_FOR)
    (tmp_path / "stack").symlink_to(ROOT / "stack")  # the demo's services find the stack's layout (file_sd) here
    raw.setdefault("stack", {})["state_dir"] = str((ROOT / raw.get("stack", {}).get("state_dir", "state")).resolve())
    path = tmp_path / "tracklog.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def test_demo_incidents_each_fire_their_alert_and_no_other(stack: Stack, prometheus_url, tmp_path, capsys):
    config = _compressed_config(tmp_path)
    env = f"demo-review-{time.time_ns() % 10**9}"
    started = time.time()
    with (tmp_path / "demo.out").open("w+") as out:
        process = subprocess.Popen([sys.executable, "-m", "demo", *DEMO_ARGS, "--env", env, "--config", str(config)],
                                   cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            # the review starts once Prometheus has scraped all four services a few times: before that,
            # ServiceStoppedLogging (which counts every env's records) holds for a service nobody ran for 10 minutes
            wait_for(lambda: len(prometheus_query(prometheus_url, f'up{{job="tracklog", env="{env}"}} == 1')) == 4,
                     timeout=60, interval=1, what="Prometheus scraping the demo's four services")
            scraped = time.time() + 20
            assert process.wait(240) == 0, (tmp_path / "demo.out").read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    text = (tmp_path / "demo.out").read_text()
    ended = time.time()

    # The banner names each incident's alert and when it pages; the end says which did (the stack's rules are the
    # shipped ones, so the shortened error-rate alert may not have paged yet: only that each is accounted for).
    for alert in EXPECTED:
        assert any(alert in line and "pages ~+" in line for line in text.splitlines()), (alert, text[:4000])
    report = text[text.index(f"alerts of env={env} in Alertmanager"):]
    for alert in EXPECTED:
        assert any(alert in line for line in report.splitlines()[1:]), (alert, report)
    assert "WILL NOT PAGE" not in text

    capsys.readouterr()
    code = cli.main(["--config", str(config), "review", "alerts", "--from", _stamp(scraped), "--to", _stamp(ended),
                     "--match", f"env={env}", "--output", "json"])
    review = json.loads(capsys.readouterr().out)
    assert code == 0, [(r["rule"], r["error"]) for r in review["rules"] if r["error"]]
    fired = {r["alertname"]: r["backtest"]["firings"] for r in review["rules"] if r["backtest"]["count"]}
    assert set(fired) == set(EXPECTED), {name: [f["labels"] for f in firings] for name, firings in fired.items()}

    for alert, incident_at in EXPECTED.items():
        for firing in fired[alert]:
            assert firing["labels"]["env"] == env
            firing_at = datetime.fromisoformat(firing["start"].replace("Z", "+00:00")).timestamp()
            assert firing_at >= started + incident_at, (alert, firing, started)
    assert {f["labels"]["client_address"] for f in fired["RepeatedFailedLogins"]} == {BRUTE_FORCE_IP}
    assert {f["labels"]["audit_target"] for f in fired["AdminPermissionChanged"]} == \
        {ACCOUNTS[PROMOTED_ACCOUNT].user_id}
    assert {f["labels"]["service"] for f in fired["TrackingApiHighErrorRate"]} == {"tracking-api"}
