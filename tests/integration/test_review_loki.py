"""`tracklog review alerts` on LogQL rules against the real Loki 2.2.1: login failures pushed with their own
timestamps over the last 3 hours, in an env of their own, backtested through the shipped RepeatedFailedLogins rule."""

from __future__ import annotations

import json
import random
import shutil
import time

import pytest
import requests

from provisioning import cli, config
from provisioning.review import actual, rules
from provisioning.timerange import parse_time
from tests.integration.conftest import ROOT, wait_for
from tests.integration.ownprometheus import STALE, own_prometheus, remote_write

NS = 10**9
# (address, failures, minutes they are spread over, minutes before now): two brute-force runs and one under the
# threshold (thresholds.failed_logins_per_ip: 10 within 5m)
BURSTS = [("203.0.113.7", 25, 4, 120), ("198.51.100.9", 12, 3, 60), ("192.0.2.44", 8, 2, 30)]


def _record(at_ns: int, address: str, env: str) -> list[str]:
    line = {"log_type": "security", "service": "auth", "env": env, "level": "warning", "event.name": "auth.login",
            "auth.outcome": "failure", "auth.reason": "bad_password", "client.address": address,
            "user.id": "u-1", "message": "login failure for u-1",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at_ns // NS)) + f".{at_ns % NS:09d}Z"}
    return [str(at_ns), json.dumps(line, separators=(",", ":"))]


def push_failures(loki_url: str, name: str, seed: int, network: str) -> int:
    """Three hours of login failures of env ``name`` into Loki: one a minute, each from another address of
    ``network`` (e.g. "10.9"), and the BURSTS; returns when Loki holds them all (ns of "now" they end at)."""
    now = time.time_ns()
    rng = random.Random(seed)
    values = [_record(now - (180 - minute) * 60 * NS, f"{network}.{minute // 250}.{minute % 250}", name)
              for minute in range(180)]
    for address, count, minutes, ago in BURSTS:
        begin = now - ago * 60 * NS
        values += [_record(begin + int(rng.uniform(0, minutes * 60) * NS), address, name) for _ in range(count)]
    values.sort(key=lambda v: int(v[0]))
    body = {"streams": [{"stream": {"service": "auth", "env": name, "log_type": "security", "level": "warning"},
                         "values": values}]}
    requests.post(f"{loki_url}/loki/api/v1/push", json=body, timeout=30).raise_for_status()

    def stored() -> bool:
        answer = requests.get(f"{loki_url}/loki/api/v1/query", params={
            "query": f'sum(count_over_time({{env="{name}", log_type="security"}}[4h]))'}, timeout=30).json()
        result = answer["data"]["result"]
        return bool(result) and int(result[0]["value"][1]) >= len(values)

    wait_for(stored, what=f"{len(values)} records of {name} in Loki")
    return now


@pytest.fixture(scope="module")
def pushed(loki_url: str) -> tuple[str, int]:
    name = f"it-review-{time.time_ns() % 10**8}"
    return name, push_failures(loki_url, name, seed=12, network="10.9")


@pytest.fixture(scope="module")
def env(pushed: tuple[str, int]) -> str:
    return pushed[0]


def test_repeated_failed_logins_fire_for_each_brute_force_run_only(env: str,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--config", str(ROOT / "tracklog.yaml"), "review", "alerts", "--rule", "RepeatedFailedLogins",
                     "--since", "3h", "--match", f"env={env}", "--budget", "1/3h", "--output", "json"])
    assert code == 0
    [rule] = json.loads(capsys.readouterr().out)["rules"]
    fired = rule["backtest"]["firings"]
    assert {f["labels"]["env"] for f in fired} == {env}
    assert sorted(f["labels"]["client_address"] for f in fired) == ["198.51.100.9", "203.0.113.7"]
    peaks = {d["labels"]["client_address"]: d["max"] for d in rule["signal_by_labels"] if d["labels"]["env"] == env}
    # the most failures of one address within 5m is every failure of its run: what was pushed
    assert {a: peaks[a] for a, *_ in BURSTS} == {a: n for a, n, *_ in BURSTS}
    assert rule["actual"]["count"] is None  # the stack's Loki 2.2.1 writes no ALERTS
    assert rule["actual"]["source"] == actual.LOKI_NOT_RECORDED
    assert rule["config_key"]["path"] == "thresholds.failed_logins_per_ip"
    # two firings over a budget of one: the suggestion is just above the smaller run's peak, and fires once
    suggestion = rule["suggestion"]["suggested"]
    assert suggestion["firings"] == 1
    assert 12 <= suggestion["threshold"] < 25


def test_the_text_report_names_the_rule_and_what_fired(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--config", str(ROOT / "tracklog.yaml"), "review", "alerts", "--rule", "RepeatedFailedLogins",
                     "--since", "3h"])
    out = capsys.readouterr().out
    assert code == 0
    assert "RepeatedFailedLogins  (loki, every 1m)" in out
    assert "would have fired   " in out
    assert "thresholds.failed_logins_per_ip" in out or "suggestion         keep" in out
    assert "actually fired     not recorded" in out


@pytest.mark.skipif(not shutil.which("prometheus"), reason="Debian's prometheus package is not installed")
def test_alerts_a_loki_ruler_wrote_to_prometheus_are_read_back_beside_the_backtest(
        pushed: tuple[str, int], tmp_path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A ruler that remote-writes (Loki 2.3+: pkg/ruler/compat.go gives the Prometheus rules manager the remote-write
    registry as its Appendable) leaves what the rules manager appends for an alert: ALERTS{alertname, alertstate,
    the rule's labels, the series' labels} = 1 at each evaluation while it fires, then a staleness marker
    (prometheus/rules/alerting.go, manager.go). A Prometheus of this test's own receives those series for the two
    brute-force runs, as that ruler would have written them, 13 s into each minute."""
    name, now = pushed
    [rule] = [r for r in rules.load(config.load(ROOT / "tracklog.yaml")) if r.name == "RepeatedFailedLogins"]
    written, series = [], []
    for address, _, _, ago in BURSTS[:2]:
        begin = now / NS - ago * 60
        first, last = begin + 3 * 60 + 13, begin + 7 * 60 + 13
        labels = {"__name__": "ALERTS", "alertname": rule.name, "alertstate": "firing", **rule.labels,
                  "env": name, "client_address": address}
        series.append((labels, [(first + 60 * k, 1.0) for k in range(5)] + [(last + 60, STALE)]))
        written.append((address, first, last + 60))
    base = tmp_path / "prometheus"
    base.mkdir()
    with own_prometheus(base, {"global": {"scrape_interval": "15s"}}, "--web.enable-remote-write-receiver") as url:
        for one in series:  # oldest first: a fresh TSDB takes samples older than its newest by at most an hour
            remote_write(url, [one])
        monkeypatch.setenv("TRACKLOG_PROMETHEUS_URL", url)
        code = cli.main(["--config", str(ROOT / "tracklog.yaml"), "review", "alerts", "--rule", rule.name,
                         "--rule", "AdminPermissionChanged", "--since", "3h", "--match", f"env={name}",
                         "--output", "json"])
    assert code == 0
    failed, granted = json.loads(capsys.readouterr().out)["rules"]
    assert failed["actual"]["source"] == actual.LOKI_RECORDED
    fired = sorted(failed["actual"]["firings"], key=lambda f: f["start"])
    assert [f["labels"]["client_address"] for f in fired] == [address for address, *_ in written]
    for firing, (_, start, end) in zip(fired, written, strict=True):
        assert abs(parse_time(firing["start"], 0) / NS - start) <= 60  # sampled on the rule's 1m grid
        assert abs(parse_time(firing["end"], 0) / NS - end) <= 60
    # beside it, the backtest of the same runs from the pushed failures
    assert sorted(f["labels"]["client_address"] for f in failed["backtest"]["firings"]) == \
        sorted(address for address, *_ in written)
    # Prometheus holds a Loki rule's ALERTS, so a Loki rule without any fired none
    assert (granted["actual"]["count"], granted["actual"]["source"]) == (0, actual.LOKI_RECORDED)
