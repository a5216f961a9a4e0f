"""Detection of suspicious security/audit activity over synthetic records, and the compliance report's escaping."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from provisioning import config
from provisioning.audit import detect as d
from provisioning.audit import report
from provisioning.errors import ConfigError
from provisioning.securityconfig import SecurityConfig
from provisioning.thresholds import read_thresholds
from provisioning.timerange import NS, TimeRange
from provisioning.yamlreader import Reader

T0 = 1_795_000_000 * NS
RAW = {
    "thresholds": {"failed_logins_per_ip": 5, "failed_logins_window": "5m", "failures_before_success": 3},
    "security": {"allowed_countries": ["DE", "AT"], "allowed_networks": ["10.0.0.0/8", "2001:db8::/32"],
                 "admin_roles": ["admin", "superuser"]},
}


def login(at_s: float, user: str, outcome: str, address: str = "10.0.0.1", country: str | None = "DE") -> dict:
    record = {"_ts_ns": T0 + int(at_s * NS), "event.name": "auth.login", "log_type": "security", "service": "auth",
              "env": "t", "user.id": user, "auth.outcome": outcome, "client.address": address}
    if country:
        record["client.geo.country_iso_code"] = country
    if outcome == "failure":
        record["auth.reason"] = "bad_password"
    return record


def change(at_s: float, actor: str, target: str, role: str, before: object, after: object) -> dict:
    return {"_ts_ns": T0 + int(at_s * NS), "event.name": "permission.change", "log_type": "audit", "service": "auth",
            "audit.actor": actor, "audit.target": target, "auth.role": role, "audit.before": before,
            "audit.after": after}


def denied(at_s: float, user: str, path: str, role: str) -> dict:
    return {"_ts_ns": T0 + int(at_s * NS), "event.name": "authz.denied", "log_type": "security", "service": "api",
            "user.id": user, "url.path": path, "auth.role": role, "client.address": "10.1.1.1"}


def thresholds_of(raw: dict) -> d.Thresholds:
    reader = Reader(Path("tracklog.yaml"))
    thresholds = read_thresholds(reader, raw)
    if reader.problems:
        raise ConfigError(reader.problems)
    return d.Thresholds.from_config(thresholds)


def policy_of(raw: dict) -> d.Policy:
    return d.Policy.from_security(SecurityConfig.from_raw(raw))


def run(records: list[dict], raw: dict = RAW) -> list[d.Finding]:
    return d.detect(records, thresholds_of(raw), policy_of(raw))


def kinds(findings: list[d.Finding]) -> dict[str, list[d.Finding]]:
    out: dict[str, list[d.Finding]] = {}
    for f in findings:
        out.setdefault(f.kind, []).append(f)
    return out


def test_clean_records_give_no_findings() -> None:
    records = [login(0, "u1", "success"), login(10, "u1", "failure"), login(20, "u1", "success"),
               change(30, "boss", "u2", "viewer", False, True), denied(40, "u3", "/api/orders", "dispatcher"),
               {"event.name": "ui.action", "user.id": "u1", "_ts_ns": T0}]
    assert run(records) == []


def test_brute_force_from_one_address_uses_the_configured_threshold_and_window() -> None:
    records = [login(i * 10, f"victim{i}", "failure", address="198.51.100.7") for i in range(5)]
    found = kinds(run(records))["brute_force_address"]
    assert len(found) == 1
    f = found[0]
    assert (f.where, f.count, f.severity) == ("198.51.100.7", 5, "high")
    assert (f.first_ns, f.last_ns) == (T0, T0 + 40 * NS)
    assert f.example["client.address"] == "198.51.100.7"
    assert "_ts_ns" not in f.example
    # one failure fewer than the threshold: nothing
    assert "brute_force_address" not in kinds(run(records[:4]))
    # the same five spread beyond the window: nothing; a wider window from config: found again
    spread = [login(i * 100, f"victim{i}", "failure", address="198.51.100.7") for i in range(5)]
    assert "brute_force_address" not in kinds(run(spread))
    wider = {**RAW, "thresholds": {**RAW["thresholds"], "failed_logins_window": "10m"}}
    assert kinds(run(spread, wider))["brute_force_address"][0].count == 5
    lower = {**RAW, "thresholds": {**RAW["thresholds"], "failed_logins_per_ip": 4}}
    assert kinds(run(records[:4], lower))["brute_force_address"][0].count == 4


def test_overlapping_windows_merge_into_one_finding_and_separate_runs_stay_apart() -> None:
    first = [login(i * 30, "u", "failure", address="192.0.2.1") for i in range(12)]  # 6 minutes, 5m window
    later = [login(3600 + i, "u", "failure", address="192.0.2.1") for i in range(5)]
    found = kinds(run(first + later))["brute_force_address"]
    assert [f.count for f in found] == [12, 5]


def test_many_failures_against_one_account_from_many_addresses() -> None:
    records = [login(i, "alice", "failure", address=f"192.0.2.{i}") for i in range(6)]
    found = kinds(run(records))
    assert "brute_force_address" not in found
    account = found["brute_force_account"][0]
    assert (account.who, account.count) == ("alice", 6)
    assert "192.0.2.0" in account.where


def test_success_after_failures_names_the_address_of_the_success() -> None:
    records = [login(i, "bob", "failure", address="192.0.2.9") for i in range(3)]
    records.append(login(10, "bob", "success", address="10.9.9.9"))
    f = kinds(run(records))["success_after_failures"][0]
    assert (f.who, f.where, f.count, f.severity) == ("bob", "10.9.9.9", 4, "critical")
    # all from the address of the success, under the brute-force threshold: the user mistyping
    typo = [*records[:3], login(10, "bob", "success", address="192.0.2.9")]
    assert kinds(run(typo))["success_after_failures"][0].severity == "low"
    assert "192.0.2.9" in f.detail
    assert f.example["auth.outcome"] == "success"
    # two failures are below failures_before_success=3
    assert "success_after_failures" not in kinds(run(records[1:]))
    # a success in between resets the run
    reset = [*records[:2], login(1.5, "bob", "success"), *records[2:]]
    assert "success_after_failures" not in kinds(run(reset))
    # the threshold is read from config
    two = {**RAW, "thresholds": {**RAW["thresholds"], "failures_before_success": 2}}
    assert "success_after_failures" in kinds(run(records[1:], two))


def test_logins_from_disallowed_countries_and_networks() -> None:
    records = [login(0, "carol", "success", address="10.2.3.4", country="US"),
               login(9000, "carol", "success", address="10.2.3.4", country="us"),
               login(20000, "dave", "success", address="203.0.113.5", country="DE"),
               login(30000, "erin", "success", address="2001:db8::1", country="AT"),
               login(30001, "frank", "failure", address="8.8.8.8", country="RU")]  # failures are not logins
    # the allow-lists apply to admins (security.admin_roles) and staff by default, not to customers
    assert not {"login_disallowed_country", "login_outside_networks"} & set(kinds(run(records)))
    for record in records:
        record["user.roles"] = ["superuser"]
    found = kinds(run(records))
    country = found["login_disallowed_country"]
    assert [(f.who, f.where, f.count) for f in country] == [("carol", "US", 2)]
    network = found["login_outside_networks"]
    assert [(f.who, f.where) for f in network] == [("dave", "203.0.113.5")]
    # with the network listed (config), dave is fine
    allowed = {**RAW, "security": {**RAW["security"], "allowed_networks": ["10.0.0.0/8", "2001:db8::/32",
                                                                           "203.0.113.0/24"]}}
    assert "login_outside_networks" not in kinds(run(records, allowed))


def test_impossible_travel_uses_the_default_and_the_configured_hours() -> None:
    records = [login(0, "gina", "success", country="DE"), login(3600, "gina", "success", country="AT")]
    f = kinds(run(records))["impossible_travel"][0]
    assert (f.who, f.where.split(" (")[0], f.count) == ("gina", "DE -> AT", 1)
    far = [login(0, "gina", "success", country="DE"), login(3 * 3600, "gina", "success", country="AT")]
    assert "impossible_travel" not in kinds(run(far))  # default 2 hours
    four = {**RAW, "thresholds": {**RAW["thresholds"], "impossible_travel_hours": 4}}
    assert "impossible_travel" in kinds(run(far, four))
    same = [login(0, "gina", "success", country="DE"), login(60, "gina", "success", country="DE")]
    assert "impossible_travel" not in kinds(run(same))
    assert thresholds_of(RAW).impossible_travel_ns == 2 * 3600 * NS


@pytest.mark.parametrize(("role", "before", "after"), [
    ("admin", "viewer", "admin"), ("role", ["viewer"], ["viewer", "superuser"]), ("admin", False, True),
    ("superuser", "none", "granted"),
])
def test_permission_escalation_to_an_admin_role(role: str, before: object, after: object) -> None:
    f = kinds(run([change(0, "root", "mallory", role, before, after)]))["admin_grant"][0]
    assert f.who == "root -> mallory"
    assert "root" in f.detail
    assert "mallory" in f.detail
    assert str(after if not isinstance(after, list) else after[-1]).lower() in f.detail


@pytest.mark.parametrize(("role", "before", "after"), [
    ("admin", "admin", "viewer"), ("admin", True, False), ("dispatcher", "viewer", "dispatcher"),
    ("role", ["admin"], ["admin", "viewer"]),
])
def test_no_escalation_for_revocations_and_other_roles(role: str, before: object, after: object) -> None:
    assert run([change(0, "root", "m", role, before, after)]) == []


def test_admin_roles_come_from_config() -> None:
    rec = [change(0, "root", "m", "dispatcher", "viewer", "dispatcher")]
    raw = {**RAW, "security": {**RAW["security"], "admin_roles": ["dispatcher"]}}
    assert kinds(run(rec, raw))["admin_grant"]


def test_denied_access_to_admin_endpoints() -> None:
    records = [denied(0, "u9", "/api/admin/couriers", "admin"), denied(5, "u9", "/api/admin/couriers", "admin"),
               denied(6, "u8", "/admin/settings", "ops"), denied(7, "u7", "/api/orders", "dispatcher")]
    found = kinds(run(records))["admin_access_denied"]
    assert sorted((f.who, f.count) for f in found) == [("u8", 1), ("u9", 2)]


def test_bad_thresholds_and_policy_are_config_errors_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "tracklog.yaml"
    path.write_text("project: p\nthresholds:\n  failed_logins_window: soon\n  failed_logins_per_ip: 0\n"
                    "security:\n  allowed_networks: [not-a-net]\n")
    with pytest.raises(ConfigError) as err:
        config.load(path)
    text = str(err.value)
    assert f"{path}:3: thresholds.failed_logins_window" in text
    assert f"{path}:4: thresholds.failed_logins_per_ip: must be a positive number" in text
    assert f"{path}:6: security.allowed_networks: 'not-a-net' is not a network" in text


def test_thresholds_left_out_keep_the_dashboards_defaults() -> None:
    assert thresholds_of({"thresholds": {"failed_logins_window": "5m"}}).failed_logins_per_ip == 10


def test_records_from_timestamp_field_when_no_loki_time() -> None:
    rec = login(0, "x", "success")
    del rec["_ts_ns"]
    rec["timestamp"] = "2026-11-26T10:00:00.5Z"
    assert d.record_ns(rec) == 1795687200 * NS + NS // 2


def test_selector_escapes_env_and_filters_events() -> None:
    assert d.selector('a"b') == ('{log_type=~"audit|security", env="a\\"b"} '
                                 '|~ `auth\\.login|permission\\.change|authz\\.denied`')
    assert d.selector(None, line_filter=False) == '{log_type=~"audit|security"}'


def test_report_escapes_every_value_and_writes_csvs(tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>"
    records = [login(0, evil, "failure", address="10.0.0.1") for _ in range(3)]
    records.append(login(10, evil, "success", country='"><img src=x>'))
    records.append(change(20, "=cmd|' /C calc'!A0", evil, "admin", "viewer", "admin"))
    records.append(denied(30, "u1", "/api/admin/<b>", "admin"))
    findings = run(records)
    span = TimeRange(T0 - 86400 * NS, T0 + 86400 * NS)
    paths = report.write(tmp_path, records, findings, policy_of(RAW), span, "<env>", T0, "proj")
    assert [p.name for p in paths] == ["report.html", "logins.csv", "permission_changes.csv", "findings.csv"]
    page = (tmp_path / "report.html").read_text()
    assert "<script" not in page
    assert "<img" not in page
    assert "<b>" not in page
    assert "<env>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<svg" in page
    assert "Logins per hour by outcome" in page
    assert "Failures per hour" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page
    with (tmp_path / "logins.csv").open() as handle:
        logins = list(csv.DictReader(handle))
    assert len(logins) == 4
    assert logins[0]["user"] == evil
    assert logins[-1]["outcome"] == "success"
    with (tmp_path / "permission_changes.csv").open() as handle:
        changes = list(csv.DictReader(handle))
    assert changes[0]["actor"].startswith("'=")
    assert changes[0]["admin_granted"] == "admin"
    with (tmp_path / "findings.csv").open() as handle:
        kinds_written = {row["kind"] for row in csv.DictReader(handle)}
    assert {"success_after_failures", "admin_grant", "admin_access_denied"} <= kinds_written


def test_escape_helpers() -> None:
    assert report.esc("<script>") == "&lt;script&gt;"
    assert report.esc({"a": "<x>"}) == "{&quot;a&quot;: &quot;&lt;x&gt;&quot;}"
    assert report.csv_cell("+1") == "'+1"
    assert report.csv_cell("ok") == "ok"
