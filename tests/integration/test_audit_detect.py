"""`audit detect` and `audit report` against the real Loki: records pushed by the exporters are found and reported."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import time
from pathlib import Path

import pytest

import exporters
from exporters import schema
from provisioning import config
from provisioning.audit import detect as detection
from provisioning.commands import audit
from provisioning.lokiquery import LokiReader
from tests.integration.conftest import ROOT, wait_for

CONFIG = str(ROOT / "tracklog.yaml")


def _push(loki_url: str, env: str, emit) -> int:
    handler = exporters.LokiHandler(loki_url, service="auth", env=env, batch_max_wait=0.1)
    log = logging.getLogger(f"tests.audit.detect.{env}")
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False
    count = emit(log)
    assert handler.client.flush(10)
    handler.close()
    log.handlers[:] = []
    reader = LokiReader(config.load(CONFIG))
    wait_for(lambda: len(detection.records_from(reader.entries(
        detection.selector(env, line_filter=False), time.time_ns() - 600 * 10**9, time.time_ns() + 10**9))) >= count,
        what=f"{count} records of env {env}")
    return count


def _suspicious(log: logging.Logger) -> int:
    thresholds = detection.Thresholds.from_config(config.load(CONFIG).thresholds)
    n = 0
    for i in range(thresholds.failed_logins_per_ip):  # brute force from one address
        schema.login_attempt(log, user_id=f"victim-{i}", outcome="failure", client_address="198.51.100.66",
                             reason="bad_password", country="DE")
        n += 1
    for _ in range(thresholds.failures_before_success):  # then guessed
        schema.login_attempt(log, user_id="bob", outcome="failure", client_address="10.1.2.3", reason="bad_password",
                             country="DE")
        n += 1
    schema.login_attempt(log, user_id="bob", outcome="success", client_address="10.7.7.7", country="DE")
    schema.login_attempt(log, user_id="carol", outcome="success", client_address="10.2.2.2", country="BR",
                         **{"user.roles": ["support"]})  # staff: the country allow-list applies to her
    schema.login_attempt(log, user_id="gina", outcome="success", client_address="10.3.3.3", country="DE")
    schema.login_attempt(log, user_id="gina", outcome="success", client_address="10.3.3.4", country="AT")
    schema.permission_change(log, actor="root", target="mallory", role="admin", before="viewer", after="admin")
    schema.access_denied(log, user_id="eve", resource="/api/admin/couriers", required_role="admin",
                         client_address="10.4.4.4")
    return n + 6


def _args(env: str, command: str, **extra: object) -> argparse.Namespace:
    return argparse.Namespace(config=CONFIG, audit_command=command, since=None, start="15m", end=None, env=env,
                              output="json", service=None, **extra)


@pytest.fixture(scope="module")
def suspicious_env(loki_url: str) -> str:
    env = f"it-detect-{time.time_ns() % 10**9}"
    _push(loki_url, env, _suspicious)
    return env


def test_detect_finds_every_kind(suspicious_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert audit.run(_args(suspicious_env, "detect")) == 2
    found = json.loads(capsys.readouterr().out)["findings"]
    by_kind: dict[str, list[dict]] = {}
    for f in found:
        by_kind.setdefault(f["kind"], []).append(f)
    assert [f["where"] for f in by_kind["brute_force_address"]] == ["198.51.100.66"]
    success = by_kind["success_after_failures"]
    assert [(f["who"], f["where"]) for f in success] == [("bob", "10.7.7.7")]
    assert [(f["who"], f["where"]) for f in by_kind["login_disallowed_country"]] == [("carol", "BR")]
    assert [f["who"] for f in by_kind["impossible_travel"]] == ["gina"]
    grant = by_kind["admin_grant"][0]
    assert grant["who"] == "root -> mallory"
    assert "viewer" in grant["detail"]
    assert grant["example"]["audit.after"] == "admin"
    assert [(f["who"], f["count"]) for f in by_kind["admin_access_denied"]] == [("eve", 1)]
    assert all(f["example"]["env"] == suspicious_env for f in found)


def test_a_clean_env_exits_zero(loki_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    env = f"it-detect-clean-{time.time_ns() % 10**9}"

    def clean(log: logging.Logger) -> int:
        schema.login_attempt(log, user_id="ann", outcome="success", client_address="10.0.0.5", country="DE")
        schema.login_attempt(log, user_id="ann", outcome="failure", client_address="10.0.0.5", reason="typo",
                             country="DE")
        schema.permission_change(log, actor="root", target="ann", role="viewer", before=False, after=True)
        schema.user_action(log, user_id="ann", action="open_map")
        return 4

    _push(loki_url, env, clean)
    args = _args(env, "detect")
    args.output = "text"
    assert audit.run(args) == 0
    assert "3 record(s), 0 finding(s)" in capsys.readouterr().out  # detect does not read the ui.action
    assert audit.run(_args(env, "detect")) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == []


def test_report_writes_html_and_csv(suspicious_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    assert audit.run(_args(suspicious_env, "report", out=str(out))) == 0
    printed = capsys.readouterr().out.split()
    names = ["report.html", "logins.csv", "permission_changes.csv", "findings.csv"]
    assert printed == [str(out / name) for name in names]
    with (out / "logins.csv").open() as handle:
        logins = list(csv.DictReader(handle))
    thresholds = detection.Thresholds.from_config(config.load(CONFIG).thresholds)
    assert len(logins) == thresholds.failed_logins_per_ip + thresholds.failures_before_success + 4
    assert {row["env"] for row in logins} == {suspicious_env}
    assert sum(row["outcome"] == "success" for row in logins) == 4
    with (out / "permission_changes.csv").open() as handle:
        changes = list(csv.DictReader(handle))
    assert [(c["actor"], c["target"], c["before"], c["after"], c["admin_granted"]) for c in changes] == [
        ("root", "mallory", "viewer", "admin", "admin")]
    with (out / "findings.csv").open() as handle:
        kinds = {row["kind"] for row in csv.DictReader(handle)}
    assert {"brute_force_address", "success_after_failures", "login_disallowed_country", "impossible_travel",
            "admin_grant", "admin_access_denied"} <= kinds
    page = (out / "report.html").read_text()
    assert page.count("<svg") == 2
    assert "mallory" in page
    assert "/api/admin/couriers" in page
