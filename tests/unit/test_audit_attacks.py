"""Spread-out attacks and per-user baselines over a realistic day of a consumer platform's logins (with the
thresholds shipped in tracklog.yaml): a quiet day gives no high finding; each attack is one finding by name."""

from __future__ import annotations

from collections import Counter

import pytest

from provisioning import config
from provisioning.audit import detect as d
from provisioning.securityconfig import SecurityConfig
from tests import audit_traffic as traffic
from tests.integration.conftest import ROOT

T0 = 1_795_000_000 * traffic.NS
HOUR = 3600 * traffic.NS
CFG = config.load(ROOT / "tracklog.yaml")
SECURITY = CFG.security
ATTACK_KINDS = {"credential_stuffing", "password_spraying", "failure_surge", "spread_success_after_failures"}


def run(records: list[dict], security: SecurityConfig = SECURITY, **kw: object) -> list[d.Finding]:
    return d.detect(records, d.Thresholds.from_config(CFG.thresholds), d.Policy.from_security(CFG.security),
                    security, **kw)


def test_a_quiet_day_has_no_high_finding() -> None:
    platform = traffic.Platform.build()
    records = traffic.quiet(platform, T0, 24)
    outcomes = Counter((r["auth.outcome"], r.get("auth.reason")) for r in records)
    assert len(records) > 5000  # thousands of logins, hundreds of them failed: mistyped passwords and e-mails
    assert outcomes[("failure", "bad_password")] > 300
    assert outcomes[("failure", "unknown_user")] > 50
    assert len({r["client.address"] for r in records}) > 1500  # many residential addresses, a few carrier NATs
    found = run(records)
    assert [f for f in found if f.severity in ("critical", "high")] == []
    by_kind = Counter(f.kind for f in found)
    assert set(by_kind) <= {"success_after_failures", "new_country"}, by_kind  # typos; travellers abroad
    assert 0 < by_kind["new_country"] <= 6


@pytest.mark.parametrize(("shape", "kind", "severity"), [
    (traffic.credential_stuffing, "credential_stuffing", "critical"),  # two breached passwords still worked
    (traffic.password_spraying, "password_spraying", "high"),
    (traffic.targeted_guessing, "failure_surge", "high"),
    (traffic.spread_takeover, "spread_success_after_failures", "critical"),
])
def test_each_attack_mixed_into_a_quiet_day_is_one_finding_by_name(shape, kind: str, severity: str) -> None:
    platform = traffic.Platform.build()
    attack = shape(platform, T0 + 20 * HOUR)
    assert all(n <= 3 for n in Counter(r["client.address"] for r in attack).values())  # 1-3 tries per address
    found = run(traffic.quiet(platform, T0, 24) + attack)
    spread = [f for f in found if f.kind in ATTACK_KINDS]
    assert [(f.kind, f.severity) for f in spread] == [(kind, severity)]
    f = spread[0]
    assert T0 + 20 * HOUR - SECURITY.attacks.window_ns <= f.first_ns <= T0 + 20 * HOUR + SECURITY.attacks.window_ns
    assert f.evidence["addresses"] >= (6 if kind == "spread_success_after_failures" else 20)
    assert f.detail


def test_stuffing_evidence_says_what_it_saw() -> None:
    platform = traffic.Platform.build()
    attack = traffic.credential_stuffing(platform, T0 + 20 * HOUR)
    f = next(f for f in run(traffic.quiet(platform, T0, 24) + attack) if f.kind == "credential_stuffing")
    bots = {r["client.address"] for r in attack}
    e = f.evidence
    assert e["addresses"] >= len(bots)
    assert set(e["top_addresses"]) & bots
    assert 0.4 < e["unknown_user_share"] < 0.7
    assert e["window"] == "600s"
    cracked = {r["user.id"] for r in attack if r["auth.outcome"] == "success"}
    assert cracked <= set(e["accounts_logged_into"])
    assert f"{e['accounts']} accounts from {e['addresses']} addresses" in f.detail


def test_attacks_below_the_shipped_thresholds_pass_and_config_moves_them() -> None:
    platform = traffic.Platform.build()
    small = traffic.password_spraying(platform, T0 + 20 * HOUR, addresses=8, accounts=15)
    quiet = traffic.quiet(platform, T0, 24)
    assert not {f.kind for f in run(quiet + small)} & ATTACK_KINDS
    lower = config.load(CFG.path, {"security.attacks.password_spraying": {
        "accounts": 12, "addresses": 5, "attempts_per_account": 3}}).security
    assert "password_spraying" in {f.kind for f in run(quiet + small, lower)}


def test_allow_lists_apply_to_staff_and_admins_only() -> None:
    def at(hours: float, user: str, roles: list[str], country: str, address: str) -> dict:
        return {"_ts_ns": T0 + int(hours * HOUR), "event.name": "auth.login", "auth.outcome": "success",
                "user.id": user, "user.roles": roles, "client.geo.country_iso_code": country,
                "client.address": address}

    records = [at(0, "u-1", ["customer"], "ES", "88.1.2.3"), at(0, "c-7", [], "IT", "88.1.2.4"),
               at(0, "s-11", ["support"], "DE", "88.1.2.5"), at(1, "a-1", ["admin"], "US", "10.20.0.5")]
    found = {(f.kind, f.who) for f in run(records)}
    assert found == {("login_outside_networks", "s-11"), ("login_disallowed_country", "a-1")}
    assert SECURITY.population_of(records[1]) == "couriers"  # by the user-id pattern


def test_per_user_baselines_compare_with_the_users_own_history() -> None:
    def at(hours: float, user: str, country: str, address: str, agent: str = "Firefox", roles=("admin",)) -> dict:
        return {"_ts_ns": T0 + int(hours * HOUR), "event.name": "auth.login", "auth.outcome": "success",
                "user.id": user, "user.roles": list(roles), "client.geo.country_iso_code": country,
                "client.address": address, "user_agent.original": agent}

    history = [at(-24 * 20, "a-1", "DE", "10.20.0.5"), at(-24 * 40, "u-9", "FR", "88.1.1.1", roles=["customer"]),
               at(-24, "u-9", "DE", "88.1.1.1", roles=["customer"])]
    period = [at(1, "a-1", "DE", "10.20.0.5", agent="curl/8.5"),  # admin: new user agent
              at(2, "a-1", "DE", "10.21.3.4", agent="Firefox"),  # admin: new network, same country
              at(3, "u-9", "FR", "88.1.1.1", roles=["customer"]),  # FR was 40 days ago: beyond the 30d look-back
              at(4, "u-new", "US", "88.2.2.2", roles=["customer"])]  # no history: no baseline
    found = {(f.kind, f.who, f.where) for f in run(period, history=history, start_ns=T0)}
    assert found == {("new_user_agent", "a-1", "curl/8.5"), ("new_network", "a-1", "10.21.3.0/24"),
                     ("new_country", "u-9", "FR")}
    assert not run(period[2:3], history=[*history, at(-24 * 10, "u-9", "FR", "88.1.1.1", roles=["customer"])],
                   start_ns=T0)
