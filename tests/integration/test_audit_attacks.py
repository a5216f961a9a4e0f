"""Spread-out attacks against the real Loki, ruler and Alertmanager, with the thresholds shipped in tracklog.yaml.

Each env gets a realistic quiet stretch (the last 6 h of a consumer platform's logins, pushed with their own
timestamps); four of them also get one attack in the last minutes. `audit detect` names each attack and finds
nothing high in the quiet env; the rules, applied to the native stack, page each attack once at the webhook
and nothing for the quiet env.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from provisioning import config, provision
from provisioning.commands import audit
from tests import audit_traffic as traffic
from tests.integration.conftest import ROOT, WebhookReceiver, wait_for
from tests.integration.test_provisioning_apply import _config_file

CONFIG = str(ROOT / "tracklog.yaml")
NS = traffic.NS
HOURS = 6.5
SHAPES = {
    "credential_stuffing": ("CredentialStuffing", traffic.credential_stuffing),
    "password_spraying": ("PasswordSpraying", traffic.password_spraying),
    "failure_surge": ("AuthFailureSurge", traffic.targeted_guessing),
    "spread_success_after_failures": ("LoginAfterSpreadFailures", traffic.spread_takeover),
}


def push(loki_url: str, env: str, records: list[dict]) -> None:
    """Push records as the exporters would (one stream per level), in time order, with their own timestamps."""
    streams: dict[str, list[list[str]]] = defaultdict(list)
    for record in sorted(records, key=lambda r: r["_ts_ns"]):
        at = record["_ts_ns"]
        line = {k: v for k, v in record.items() if k != "_ts_ns"}
        line["env"] = env
        line["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at // NS)) + f".{at % NS:09d}Z"
        streams[line["level"]].append([str(at), json.dumps(line, separators=(",", ":"))])
    for level, values in streams.items():
        for start in range(0, len(values), 2000):
            body = {"streams": [{"stream": {"service": "auth", "env": env, "log_type": "security", "level": level},
                                 "values": values[start:start + 2000]}]}
            requests.post(f"{loki_url}/loki/api/v1/push", json=body, timeout=30).raise_for_status()


@pytest.fixture(scope="module")
def envs(loki_url: str) -> dict[str, str]:
    """env name per shape ('quiet' too), each with its pushed records readable in Loki."""
    run = time.time_ns() % 10**8
    now = time.time_ns() - 5 * NS
    names = {"quiet": f"it-quiet-{run}", **{shape: f"it-{shape.replace('_', '-')}-{run}" for shape in SHAPES}}
    counts = {}
    for shape, env in names.items():
        platform = traffic.Platform.build(seed=len(shape))
        start = now - int(HOURS * 3600 * NS)
        records = [r for r in traffic.quiet(platform, start, HOURS, 500 if shape == "quiet" else 250)
                   if r["_ts_ns"] <= now]
        if shape != "quiet":
            attack = SHAPES[shape][1](platform, now - 7 * 60 * NS)
            records += [r for r in attack if r["_ts_ns"] <= now]
        push(loki_url, env, records)
        counts[env] = len(records)
    for env, count in counts.items():
        def stored(env: str = env) -> int:
            response = requests.get(f"{loki_url}/loki/api/v1/query", params={
                "query": f'sum(count_over_time({{env="{env}", log_type="security"}}[7h]))'}, timeout=30)
            result = response.json()["data"]["result"]
            return int(result[0]["value"][1]) if result else 0
        wait_for(lambda count=count, stored=stored: stored() >= count, what=f"{count} records of {env} in Loki")
    return names


def _detect(env: str, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    args = argparse.Namespace(config=CONFIG, audit_command="detect", since="7h", start=None, end=None, env=env,
                              output="json", service=None)
    audit.run(args)
    return json.loads(capsys.readouterr().out)["findings"]


def test_the_quiet_stretch_has_no_high_finding(envs: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    found = _detect(envs["quiet"], capsys)
    assert [f for f in found if f["severity"] in ("critical", "high")] == []
    assert {f["kind"] for f in found} <= {"success_after_failures", "new_country"}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_audit_detect_names_each_attack_once(shape: str, envs: dict[str, str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    found = _detect(envs[shape], capsys)
    attacks = [f for f in found if f["kind"] in SHAPES]
    assert [f["kind"] for f in attacks] == [shape]
    assert attacks[0]["severity"] in ("critical", "high")
    assert attacks[0]["evidence"]["addresses"] >= 6


@pytest.fixture
def webhook(stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    """The shipped rules (the ruler evaluating every 10 s) routed to a webhook; the shipped config after."""
    receiver = WebhookReceiver()
    monkeypatch.setenv("TRACKLOG_ALERT_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("TRACKLOG_SLACK_WEBHOOK_URL", receiver.url)
    points = yaml.safe_load((ROOT / "tracklog.yaml").read_text())["contact_points"]
    for point in points:
        if point["type"] == "slack":
            point["type"] = "webhook"  # the test receives the security team's alerts as JSON too
    cfg = config.load(_config_file(tmp_path, stack.paths.root, contact_points=points, alertInterval="10s"))
    provision.apply(provision.plan(cfg, out_dir=str(tmp_path / "build")), force=True)
    try:
        yield receiver
    finally:
        receiver.close()
        for name in ("TRACKLOG_ALERT_WEBHOOK_URL", "TRACKLOG_SLACK_WEBHOOK_URL"):
            monkeypatch.delenv(name, raising=False)
        provision.apply(provision.plan(config.load(ROOT / "tracklog.yaml")), force=True)


def test_each_attack_pages_once_and_the_quiet_stretch_not_at_all(envs: dict[str, str], webhook: WebhookReceiver,
                                                                 loki_url: str) -> None:
    ours = set(envs.values())

    def firing() -> dict[str, set[str]]:
        out: dict[str, set[str]] = defaultdict(set)
        for body in webhook.received:
            for alert in body.get("alerts", []):
                if alert["status"] == "firing" and alert["labels"].get("env") in ours:
                    out[alert["labels"]["env"]].add(alert["labels"]["alertname"])
        return out

    wanted = {envs[shape]: name for shape, (name, _) in SHAPES.items()}
    wait_for(lambda: all(name in firing()[env] for env, name in wanted.items()), timeout=240, interval=2,
             what="an alert per attack at the webhook")
    got = firing()
    for env, name in wanted.items():
        assert got[env] == {name}, (env, got[env])  # one alert per attack: no other rule fired for it
    assert envs["quiet"] not in got
    # the ruler evaluated the quiet env with the others: nothing pending or firing for it there either
    ruler = requests.get(f"{loki_url}/prometheus/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    assert [a for a in ruler if a["labels"].get("env") == envs["quiet"]] == []
    alert = next(a for body in webhook.received for a in body["alerts"]
                 if a["labels"].get("env") == envs["credential_stuffing"])
    assert (alert["labels"]["team"], alert["labels"]["attack"]) == ("security", "credential_stuffing")
