"""The backtest replays the rule manager's states: pending, firing after `for`, resolved; flaps; ALERTS intervals."""

from __future__ import annotations

import pytest

from provisioning.review.backtest import backtest, compare, firings, intervals_of, label_set
from provisioning.review.stats import Distribution, median, quantile

L = label_set({"service": "api"})
STEP = 60.0


def series(values: list[float], start: float = 0.0) -> dict:
    """One sample per evaluation; None leaves the evaluation without the series."""
    return {L: [(start + i * STEP, v) for i, v in enumerate(values) if v is not None]}


def test_for_zero_fires_at_the_first_evaluation_and_resolves_at_the_first_without() -> None:
    fired = backtest(series([0, 5, 5, 0, 0]), ">", 1, STEP, 0, end=4 * STEP)
    assert [(f.start, f.end, f.seconds) for f in fired] == [(60, 180, 120)]
    assert not fired[0].ongoing


def test_for_holds_pending_until_for_has_passed_on_the_grid() -> None:
    # active from t=60; for 5m: firing at the evaluation 300 s later (t=360), resolved at t=480
    values = [0] + [9] * 7 + [0, 0]
    [f] = backtest(series(values), ">", 1, STEP, 300, end=9 * STEP)
    assert (f.active_at, f.start, f.end) == (60, 360, 480)


def test_a_run_shorter_than_for_never_fires() -> None:
    values = [0, 9, 9, 9, 9, 0, 0]  # active 4 evaluations (t=60..240): 180 s < 300 s
    assert backtest(series(values), ">", 1, STEP, 300, end=6 * STEP) == []


def test_for_that_is_not_a_multiple_of_the_interval_waits_for_the_next_evaluation() -> None:
    values = [9, 9, 9, 0]  # for 90s: firing at t=120 (the first evaluation >= 90 s after t=0)
    [f] = backtest(series(values), ">", 1, STEP, 90, end=3 * STEP)
    assert f.start == 120


def test_a_missing_evaluation_resets_pending() -> None:
    values = [9, 9, None, 9, 9, 9, 0]  # the gap at t=120 forgets the pending alert; it restarts at t=180
    [f] = backtest(series(values), ">", 1, STEP, 120, end=6 * STEP)
    assert (f.active_at, f.start) == (180, 300)


def test_still_firing_at_the_end_is_ongoing() -> None:
    [f] = backtest(series([0, 9, 9]), ">", 1, STEP, 0, end=2 * STEP)
    assert f.ongoing
    assert f.end == 2 * STEP


def test_refiring_within_twice_for_of_resolving_is_a_flap() -> None:
    high = [9] * 3
    values = high + [0] + high + [0] * 12 + high + [0]  # resolved at t=180, active t=240, refired t=300: a flap
    fired = backtest(series(values), ">", 1, STEP, 60, end=len(values) * STEP, flap_window=120)
    assert [f.flap for f in fired] == [False, True, False]


def test_each_label_set_is_its_own_alert() -> None:
    other = label_set({"service": "web"})
    data = {L: [(0, 9), (60, 9)], other: [(60, 9), (120, 9)]}
    fired = backtest(data, ">", 1, STEP, 0, end=300)
    assert [(f.labels, f.start) for f in fired] == [(L, 0), (other, 60)]


def test_comparison_operators() -> None:
    assert compare("<=", 0)(0)
    assert not compare("<", 0)(0)
    assert compare("!=", 1)(2)
    with pytest.raises(ValueError, match="unknown comparison"):
        compare("=>", 1)


def test_alerts_series_become_intervals_without_for() -> None:
    data = {L: [(0, 1), (60, 1), (240, 1)]}
    assert [(f.start, f.end) for f in intervals_of(data, STEP, end=600)] == [(0, 120), (240, 300)]


def test_firings_of_no_activity_are_none() -> None:
    assert firings([], L, STEP, 0, 100) == []


def test_quantiles_interpolate_like_numpy() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert quantile(values, 0.5) == 2.5
    assert quantile(values, 0.95) == pytest.approx(3.85)
    assert median([5, 1, 3]) == 3
    assert median([]) is None
    d = Distribution.of([float(i) for i in range(101)])
    assert d is not None
    assert (d.p50, d.p95, d.p99, d.max, d.count) == (50, 95, 99, 100, 101)


def test_what_actually_fired_is_read_for_the_matched_series_only() -> None:
    from provisioning.review import actual
    from provisioning.review.alerts import select
    from provisioning.review.rules import ReviewRule

    rule = ReviewRule(name="TrackingApiHighErrorRate", title="TrackingApiHighErrorRate", group="g",
                      datasource="prometheus", datasource_uid="prometheus", query="q", op=">", threshold=1.0,
                      hold=0.0, interval=60.0, labels={}, expr="q > 1")

    class Alerts:  # Prometheus's answer: ALERTS of two envs, one firing for 3 minutes, the other for 10
        url = "http://prometheus"

        def range(self, query: str, start: float, end: float, step: float) -> dict:
            def labels(env: str) -> tuple:
                return (("alertname", rule.name), ("alertstate", "firing"), ("env", env))
            return {labels("demo"): [(t, 1.0) for t in (60.0, 120.0, 180.0)],
                    labels("other"): [(t, 1.0) for t in range(600, 1200, 60)]}

    everything = actual.actual(rule, Alerts(), 0.0, 3600.0, None)
    demo = actual.actual(rule, Alerts(), 0.0, 3600.0, None,
                         lambda series: select(series, [("env", "=", "demo")]))
    assert len(everything.firings) == 2
    assert len(demo.firings) == 1


def test_alerts_are_read_once_per_interval_and_told_apart_by_name_and_labels() -> None:
    from provisioning.review import actual
    from provisioning.review.alerts import Sources
    from provisioning.review.rules import ReviewRule

    def rule(name: str, interval: float = 60.0, **labels: str) -> ReviewRule:
        return ReviewRule(name=name, title=f"{name} {labels}", group="g", datasource="prometheus",
                          datasource_uid="prometheus", query="q", op=">", threshold=1.0, hold=0.0, interval=interval,
                          labels=labels, expr="q > 1")

    stopped_api, stopped_web = rule("Stopped", service="api"), rule("Stopped", service="web")
    errors, slow = rule("Errors"), rule("Slow", interval=30.0)

    class Prometheus:
        url = "http://prometheus"
        queries: list[tuple[str, float]] = []

        def range(self, query: str, start: float, end: float, step: float) -> dict:
            self.queries.append((query, step))
            return {(("alertname", "Stopped"), ("alertstate", "firing"), ("service", "web")): [(60.0, 1.0)],
                    (("alertname", "Errors"), ("alertstate", "firing"), ("env", "prod")): [(60.0, 1.0), (120.0, 1.0)]}

    prometheus = Prometheus()
    sources = Sources(prometheus, loki=None)
    reviewed = [stopped_api, stopped_web, errors, slow]
    found = {r.title: actual.actual(r, prometheus, 0.0, 600.0, None, None,
                                    lambda r=r: sources.alerts(reviewed, r.interval, 0.0, 600.0)) for r in reviewed}
    assert prometheus.queries == [('ALERTS{alertstate="firing", alertname=~"Errors|Stopped"}', 60.0),
                                  ('ALERTS{alertstate="firing", alertname="Slow"}', 30.0)]
    assert [len(found[r.title].firings) for r in reviewed] == [0, 1, 1, 0]
    assert found[errors.title].firings[0].labels == (("env", "prod"),)
