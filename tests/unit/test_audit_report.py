"""The audit report's layout without a browser: hours or days, findings summarised by kind and severity, repeated
rows folded, and a normal day's page that leads with the summary (tests/integration/test_audit_report_browser.py
renders the same pages in chromium)."""

from __future__ import annotations

import re

from provisioning import config
from provisioning.audit import charts, report, summary
from provisioning.audit import detect as d
from provisioning.audit.findings import Finding
from provisioning.timerange import TimeRange
from tests import audit_traffic as traffic
from tests.integration.conftest import ROOT

NS = traffic.NS
HOUR, DAY = 3600 * NS, 86400 * NS
T0 = 1_795_000_000 * NS  # 11:06:40 UTC
CFG = config.load(ROOT / "tracklog.yaml")


def test_ten_minutes_up_to_six_hours_hours_up_to_three_days_then_days() -> None:
    minutes = charts.buckets_for(TimeRange(T0, T0 + 6 * HOUR))
    assert (minutes.unit, minutes.count, minutes.tick_every()) == ("10 minutes", 37, 3)  # 11:00 .. 17:00
    assert [minutes.tick(i) for i in (0, 1)] == ["11-18 11:00", "11:10"]
    assert charts.buckets_for(TimeRange(T0, T0 + 6 * HOUR + NS)).unit == "hour"
    hours = charts.buckets_for(TimeRange(T0, T0 + 3 * DAY))
    assert (hours.unit, hours.count) == ("hour", 73)  # 11:00 of the first day .. 11:00 of the fourth
    assert hours.label(0) == "2026-11-18 11:00"
    assert [hours.tick(i) for i in (0, 1, 13)] == ["11-18 11:00", "12:00", "11-19 00:00"]
    assert hours.tick_every() == 6
    days = charts.buckets_for(TimeRange(T0, T0 + 3 * DAY + NS))
    assert (days.unit, days.count, days.tick(0)) == ("day", 4, "11-18")
    assert charts.buckets_for(TimeRange(T0, T0 + 30 * DAY)).tick_every() == 2
    assert charts.counts([{"_ts_ns": T0}, {"_ts_ns": T0 + HOUR}, {"_ts_ns": T0 - DAY}], hours, lambda r: True)[:3] \
        == [1, 1, 0]


def test_chart_title_legend_and_plot_have_their_own_rows() -> None:
    buckets = charts.buckets_for(TimeRange(T0, T0 + DAY))
    svg = charts.bar_chart("Logins per hour by outcome", buckets,
                           [("success", "#0a0", [3] * buckets.count), ("failure", "#a00", [0] * buckets.count)])
    title_y = int(re.search(r'class="chart-title" x="\d+" y="(\d+)"', svg).group(1))
    legend_ys = {int(y) for y in re.findall(r'<g class="legend"><rect x="[\d.]+" y="(\d+)"', svg)}
    assert min(legend_ys) > title_y  # the legend's boxes start below the title's baseline
    assert svg.count('class="bar"') == buckets.count  # bars only where there is a value
    assert 'data-points="25"' in svg
    assert 'data-unit="hour"' in svg


def finding(kind: str, severity: str, who: str, where: str, at: int = 0, **evidence: object) -> Finding:
    return Finding(kind, severity, T0 + at * NS, T0 + at * NS, who, where, 2, "d", evidence=evidence)


def test_findings_by_kind_and_severity_with_top_accounts_and_addresses() -> None:
    found = [finding("success_after_failures", "low", "u1", "1.1.1.1", 5),
             finding("success_after_failures", "low", "u1", "1.1.1.2", 9),
             finding("success_after_failures", "low", "u2", "1.1.1.1", 1),
             finding("credential_stuffing", "critical", "a, b +9 more", "x, y +50 more", 3,
                     top_accounts=["a", "b", "c"], top_addresses=["9.9.9.9", "8.8.8.8"]),
             finding("spread_success_after_failures", "critical", "v", "7.7.7.7", 4, top_addresses=["6.6.6.6"],
                     success_address="7.7.7.7")]
    kinds = summary.by_kind(found)
    assert [(k.kind, k.severity, len(k.findings)) for k in kinds] == [
        ("credential_stuffing", "critical", 1), ("spread_success_after_failures", "critical", 1),
        ("success_after_failures", "low", 3)]
    low = kinds[-1]
    assert (low.events, low.first_ns, low.last_ns) == (6, T0 + NS, T0 + 9 * NS)
    assert summary.top(low.accounts) == "u1 (2), u2"
    assert summary.top(low.places) == "1.1.1.1 (2), 1.1.1.2"
    assert summary.top(kinds[0].accounts, 2) == "a, b +1 more"  # the attack's evidence, not its display text
    assert [p for p, _ in kinds[1].places] == ["6.6.6.6", "7.7.7.7"]
    assert summary.severity_counts(found) == {"critical": 2, "high": 0, "medium": 0, "low": 3}


def test_repeated_rows_fold_into_one_with_a_count() -> None:
    rows = [{"time": f"2026-11-18T11:0{i}:00.000Z", "user": u, "outcome": "failure", "address": a}
            for i, (u, a) in enumerate([("u1", "1.1.1.1"), ("u1", "1.1.1.1"), ("u2", "1.1.1.1"), ("u1", "1.1.1.1")])]
    assert summary.grouped(rows, ("user", "outcome"), {"address": "addresses"}) == [
        {"user": "u1", "outcome": "failure", "count": "3", "first": "2026-11-18T11:00:00Z",
         "last": "2026-11-18T11:03:00Z", "addresses": "1"},
        {"user": "u2", "outcome": "failure", "count": "1", "first": "2026-11-18T11:02:00Z",
         "last": "2026-11-18T11:02:00Z", "addresses": "1"}]


def test_a_normal_days_page_leads_with_the_summary_not_thousands_of_rows() -> None:
    platform = traffic.Platform.build()
    records = traffic.quiet(platform, T0, 24)
    policy = d.Policy.from_security(CFG.security)
    findings = d.detect(records, d.Thresholds.from_config(CFG.thresholds), policy, CFG.security)
    page = report.render_html(records, findings, policy, TimeRange(T0, T0 + DAY), "prod", T0 + DAY, "p")
    order = [page.index(mark) for mark in ('id="findings-summary"', 'class="charts"', 'id="details"')]
    assert order == sorted(order)
    head = page[:order[2]]  # everything above the details: the summary and the activity
    assert head.count("<tr>") < 20
    assert "No critical or high findings." in head
    assert "Logins per hour by outcome" in head
    # the details are collapsed, except the critical and high findings (none on a normal day)
    assert re.findall(r"<details[^>]* open>", page) == []
    assert page.count("<tr>") > 2000  # every folded login and failure is still in the page
    assert "<script" not in page
    assert "Content-Security-Policy" in page


def test_critical_and_high_findings_open_and_link_from_the_summary() -> None:
    found = [finding("credential_stuffing", "critical", "a", "1.2.3.4"), finding("new_country", "low", "u", "ES")]
    page = report.render_html([], found, d.Policy.from_security(CFG.security), TimeRange(T0, T0 + 30 * DAY), None, T0)
    assert '<a href="#finding-credential_stuffing-critical">' in page
    assert '<details id="finding-credential_stuffing-critical" open>' in page
    assert '<details id="finding-new_country-low">' in page
    assert "Logins per day by outcome" in page
    assert "None in this period." in page


def test_the_chart_shades_few_findings_not_all_of_them() -> None:
    high = [finding("impossible_travel", "high", f"u{i}", "AT -> CH", i) for i in range(30)]
    critical = [finding("credential_stuffing", "critical", "a", "1.2.3.4")]
    assert report._marks(high[:5] + critical) == (high[:5] + critical, "high or critical finding")
    assert report._marks(high + critical) == (critical, "critical finding")
    assert report._marks([*high, *(finding("x", "critical", "a", "b") for _ in range(21))]) == ([], "")
