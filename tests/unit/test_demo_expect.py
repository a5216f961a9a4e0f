"""demo/expect.py: which alert each incident should page and when, and the end-of-run report."""

from __future__ import annotations

import random

from demo import expect, incidents
from provisioning.review.rules import ReviewRule


def _rule(name: str, query: str, hold: float, threshold: float = 0.0) -> ReviewRule:
    return ReviewRule(name=name, title=name, group="g", datasource="prometheus", datasource_uid="prometheus",
                      query=query, op=">", threshold=threshold, hold=hold, interval=60.0, labels={}, expr="")


RULES = [
    _rule("TrackingApiHighErrorRate", "100 * sum(rate(x{status_class=\"5xx\"}[5m])) / sum(rate(x[5m]))", 300, 1),
    _rule("DatabaseTimeoutsSpiking", "60 * sum(rate(db_query_timeouts_total[5m]))", 120, 5),
    _rule("RepeatedFailedLogins", "sum(count_over_time({log_type=\"security\"} [5m]))", 0, 10),
    _rule("AdminPermissionChanged", "sum(count_over_time({log_type=\"audit\"} [5m]))", 0),
    _rule("CredentialStuffing", "count(sum(count_over_time({log_type=\"security\"} [10m]))) >= 20", 0),
]


def _schedule(db_seconds: float) -> incidents.Schedule:
    return incidents.Schedule.plan(0.0, enabled=True, first=60, gap=150, db_seconds=db_seconds,
                                   brute_force_seconds=45)


def test_each_incident_names_its_alerts_in_order_with_times_from_the_rules():
    found = expect.expected(_schedule(240), RULES, group_wait=10)
    assert [(e.incident, e.alert) for e in found] == [
        ("DB slowdown", "TrackingApiHighErrorRate"), ("DB slowdown", "DatabaseTimeoutsSpiking"),
        ("brute force", "RepeatedFailedLogins"), ("admin grant", "AdminPermissionChanged"),
        ("credential stuffing", "CredentialStuffing")]
    error_rate = found[0]
    assert error_rate.onset == 60 + 0.15 * 240
    assert error_rate.earliest == error_rate.onset + 300
    assert error_rate.latest == error_rate.earliest + 60 + 10 + 30
    assert all(e.long_enough for e in found)
    assert "pages ~+" in error_rate.describe()
    assert found[2].onset > 210  # the 11th of 40 failures, not the first


def test_a_slowdown_too_short_for_the_error_rate_for_is_called_out():
    short = expect.expected(_schedule(90), RULES)[0]
    assert not short.long_enough
    assert "WILL NOT PAGE" in short.describe()


def test_a_quiet_run_or_a_missing_rule_expects_nothing_of_it():
    quiet = incidents.Schedule.plan(0.0, enabled=False, first=60, gap=150, db_seconds=240, brute_force_seconds=45)
    assert expect.expected(quiet, RULES) == []
    assert "CredentialStuffing" not in {e.alert for e in expect.expected(_schedule(240), RULES[:4])}


def test_the_report_says_paged_not_yet_missing_and_unexpected():
    found = expect.expected(_schedule(240), RULES, group_wait=10)
    seen = [expect.Seen("RepeatedFailedLogins", {"alertname": "RepeatedFailedLogins", "env": "e"}, 270.0,
                        ("security-slack",)),
            expect.Seen("AuthFailureSurge", {"alertname": "AuthFailureSurge", "env": "e", "attack": "x"}, 300.0,
                        ("oncall-webhook",))]
    lines = expect.report(found, seen, elapsed=450.0)
    assert any(line.split()[:2] == ["paged", "RepeatedFailedLogins"] and "+270s" in line for line in lines)
    assert any(line.split()[:2] == ["NOT", "PAGED"] and "DatabaseTimeoutsSpiking" in line for line in lines)
    assert any(line.split()[:3] == ["not", "yet", "TrackingApiHighErrorRate"] for line in lines)
    assert any(line.split()[:2] == ["unexpected", "AuthFailureSurge"] and 'attack="x"' in line for line in lines)


def test_the_breached_list_tries_each_name_once_and_spares_the_brute_force_targets():
    names = incidents.breached_list(random.Random(13), 80)
    assert len(names) == len(set(names)) == 80
    assert not {"anna.schmidt", "jonas.weber", "lea.fischer", "paul.wagner", incidents.CRACKED_ACCOUNT} & set(names)
    ours = {a.username for a in incidents.USERS}
    assert 10 <= len(ours & set(names)) < 40  # some of our users, mostly not
