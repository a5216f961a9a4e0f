"""`review alerts --html`: the chart of one rule from a backtest (pure; the page in a browser is tested in
tests/integration/test_review_alerts_html.py)."""

from __future__ import annotations

import re
from dataclasses import replace

from provisioning.review import alerts, alerts_html, output, stats, suggest
from provisioning.review.actual import Actual
from provisioning.review.alerts import RuleReview
from provisioning.review.backtest import Firing
from provisioning.review.rules import ReviewRule

RULE = ReviewRule(name="HighErrors", title="HighErrors", group="g", datasource="prometheus", datasource_uid="p",
                  query="errors", op=">", threshold=5.0, hold=120.0, interval=60.0, labels={}, expr="errors > 5")
START, END = 1_800_000_000.0, 1_800_000_000.0 + 7 * 86400


def review_of(series: alerts.Series) -> RuleReview:
    budget = suggest.parse_budget("1/week")
    incident = suggest.Incident(START + 3600, START + 7200, "i1")
    return RuleReview(rule=RULE, backtest=alerts.run_backtest(RULE, series, END), actual=Actual(None, "unknown"),
                      overall=stats.overall(series), by_labels=stats.by_labels(series),
                      suggestion=suggest.suggest(series, ">", 5.0, 60.0, 120.0, (START, END), budget, [incident]))


def test_a_week_at_1m_is_drawn_a_value_per_column_keeping_every_peak() -> None:
    samples = [(START + i * 60, 1.0) for i in range(7 * 1440)]
    for at in (70, 71, 72, 73, 5000, 5001, 5002, 5003, 9000):  # two incidents over `for` and a one-minute blip
        samples[at] = (samples[at][0], 9.0 if at < 9000 else 7.0)
    series = {(("service", "api"),): samples, (("service", "web"),): [(START + i * 60, 0.5) for i in range(60)]}
    r = review_of(series)
    assert r.backtest.count == 2
    svg = alerts_html.chart(r, series, START, END, [(START + 3600, START + 7200, "i1")])
    drawn = int(re.search(r'data-points="(\d+)"', svg).group(1))
    assert drawn <= 2 * (alerts_html.WIDTH - alerts_html.LEFT - alerts_html.RIGHT)  # not 10,080 + 60
    kept = alerts_html._columns(samples, START, END, 880, high=True)
    assert len(kept) <= 880
    assert sorted(v for _, v in kept if v > 1) == [7.0, 9.0, 9.0]  # every peak survives, one per column
    assert svg.count('class="firing"') == 2
    assert svg.count('class="incident"') == 1
    assert 'class="threshold"' in svg
    assert ('class="suggested"' in svg) == (not r.suggestion.keep)
    assert svg.count('class="signal"') == 2
    assert 'service=&quot;api&quot;' in svg  # its legend and its line's title


def test_ticks_are_round_times_across_the_range() -> None:
    ticks = alerts_html._ticks(START, START + 3 * 3600)
    assert 3 <= len(ticks) <= 8
    assert all(t % 1800 == 0 for t, _ in ticks)
    assert ticks[0][1].count(" ") == 1  # the first names the day


def test_a_page_escapes_what_it_shows_and_loads_nothing() -> None:
    series = {(("service", "<b>x</b>"),): [(START + i * 60, 1.0) for i in range(10)]}
    r = review_of(series)
    page = alerts_html.render(alerts.AlertsReview("tracklog.yaml", START, END, "1/week", (), (), (r,), 1, 0.1),
                              {RULE.title: series})
    assert "<b>x</b>" not in page
    assert "<script" not in page
    assert 'http-equiv="Content-Security-Policy"' in page


def test_the_text_counts_firings_in_words_that_agree_with_their_number() -> None:
    one = [(START + 600 + 60 * i, 9.0) for i in range(5)]
    review = review_of({(("env", "prod"),): one})
    fired = (Firing((("env", "prod"),), START + 600, START + 900, START + 600),)
    lines = output.rule_text(replace(review, actual=Actual(fired, "Prometheus ALERTS")), "tracklog.yaml", "1/week")
    assert "  would have fired   1 time, 3m in all, median 3m, 0 flaps (refired within 4m)" in lines
    assert "  actually fired     1 time, 5m in all (Prometheus ALERTS)" in lines
    two = replace(review, actual=Actual(fired * 2, "Prometheus ALERTS"))
    assert "  actually fired     2 times, 10m in all (Prometheus ALERTS)" in output.rule_text(two, "x", "1/week")
