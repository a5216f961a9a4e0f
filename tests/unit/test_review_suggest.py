"""Budgets, incidents and the suggested threshold: within budget, catching the marked incidents, naming misses."""

from __future__ import annotations

import pytest

from provisioning.review.alerts import parse_match, select
from provisioning.review.backtest import label_set
from provisioning.review.suggest import (
    Incident,
    ReviewError,
    nice,
    parse_budget,
    parse_incident,
    read_incidents,
    suggest,
)
from provisioning.timerange import NS

L = label_set({"service": "api"})
STEP = 60.0
WEEK = 7 * 86_400.0


def spikes(peaks: dict[int, float], minutes: int = 600, base: float = 0.5, width: int = 5) -> dict:
    """A flat signal with a spike of ``width`` evaluations to each peak value, starting at the given minute."""
    values = [base] * minutes
    for at, peak in peaks.items():
        for i in range(at, at + width):
            values[i] = peak
    return {L: [(i * STEP, v) for i, v in enumerate(values)]}


def test_budgets() -> None:
    assert parse_budget("2/week").allowed(WEEK) == 2
    assert parse_budget("1/day").allowed(WEEK) == 7
    assert parse_budget("3/12h").allowed(86_400) == 6
    with pytest.raises(ReviewError, match="COUNT/PERIOD"):
        parse_budget("often")
    with pytest.raises(ReviewError, match="period"):
        parse_budget("2/fortnight")


def test_incidents_are_two_times(tmp_path) -> None:
    now = 1_800_000_000 * NS
    incident = parse_incident("2026-12-01T10:00:00Z/2026-12-01T10:40:00Z", now)
    assert incident.end - incident.start == 2400
    assert parse_incident("2h/1h", now).start == now / NS - 7200
    with pytest.raises(ReviewError, match="START/END"):
        parse_incident("2026-12-01T10:00:00Z", now)
    with pytest.raises(ReviewError, match="not after"):
        parse_incident("1h/2h", now)
    listed = tmp_path / "incidents.txt"
    listed.write_text("# postmortems\n2026-12-01T10:00:00Z/2026-12-01T10:40:00Z\n\n2h/1h  # db\n")
    assert len(read_incidents(str(listed), now)) == 2


def test_keep_the_current_threshold_when_it_is_within_budget_and_catches_every_incident() -> None:
    data = spikes({100: 9})
    s = suggest(data, ">", 5, STEP, 0, (0, 600 * STEP), parse_budget("1/10h"), [Incident(100 * STEP, 110 * STEP, "a")])
    assert s.keep
    assert s.suggested.threshold == 5
    assert s.suggested.caught == ("a",)


def test_too_many_firings_raise_the_threshold_only_as_far_as_the_budget_needs() -> None:
    # minor spikes to 3 fire four times at > 1; two real incidents at 9 and 12; budget 2 in the span
    data = spikes({50: 3, 150: 3, 250: 9, 350: 3, 450: 12, 520: 3})
    span = (0.0, 600 * STEP)
    incidents = [Incident(250 * STEP, 260 * STEP, "db"), Incident(450 * STEP, 460 * STEP, "deploy")]
    s = suggest(data, ">", 1, STEP, 0, span, parse_budget(f"2/{int(span[1])}s"), incidents)
    assert not s.keep
    assert s.current.firings == 6
    assert s.suggested.firings == 2
    assert s.suggested.missed == ()
    assert 3 <= s.suggested.threshold < 9


def test_a_suggestion_that_misses_an_incident_says_which_and_what_catching_it_costs() -> None:
    data = spikes({50: 9, 150: 9, 250: 9, 350: 4})  # the marked incident is the smallest spike
    span = (0.0, 600 * STEP)
    s = suggest(data, ">", 1, STEP, 0, span, parse_budget(f"1/{int(span[1])}s"),
                [Incident(350 * STEP, 355 * STEP, "small")])
    assert s.suggested.firings <= 1
    assert s.suggested.missed == ("small",)
    assert s.catch_all is not None
    assert s.catch_all.firings == 4
    assert s.catch_all.threshold < 4


def test_for_is_applied_when_counting_firings() -> None:
    data = spikes({100: 9, 300: 9}, width=3)  # each spike lasts 3 evaluations: under a 5m `for`
    s = suggest(data, ">", 1, STEP, 300, (0, 600 * STEP), parse_budget("2/week"))
    assert s.keep
    assert s.current.firings == 0


def test_an_incident_shorter_than_for_is_caught_by_the_alert_it_set_pending() -> None:
    # the signal is over 5 from minute 100 to 109; `for` 5m fires at 105 and the marked window ends at 103
    data = spikes({100: 9.0}, width=10)
    s = suggest(data, ">", 5, STEP, 5 * STEP, (0, 600 * STEP), parse_budget("1/10h"),
                [Incident(99 * STEP, 103 * STEP, "short"), Incident(90 * STEP, 99 * STEP, "before")])
    assert s.current.firings == 1
    assert s.current.caught == ("short",)
    assert s.current.missed == ("before",)


def test_lower_is_more_sensitive_for_less_than_rules() -> None:
    data = spikes({100: 0.0, 300: 0.2}, base=5)
    s = suggest(data, "<=", 0.3, STEP, 0, (0, 600 * STEP), parse_budget(f"1/{600 * 60}s"),
                [Incident(100 * STEP, 105 * STEP, "silent")])
    assert s.suggested.firings == 1
    assert s.suggested.caught == ("silent",)
    assert s.suggested.threshold < 0.2


def test_nice_rounds_to_significant_digits() -> None:
    assert (nice(0.012345), nice(1234.0), nice(0.0)) == (0.012, 1200.0, 0.0)


def test_match_keeps_the_series_of_one_label_value() -> None:
    prod, dev, unsplit = label_set({"env": "prod"}), label_set({"env": "dev"}), label_set({})
    data = {prod: [(0, 1)], dev: [(0, 2)], unsplit: [(0, 3)]}
    assert set(select(data, [parse_match("env=prod")])) == {prod, unsplit}
    assert set(select(data, [parse_match("env!=prod")])) == {dev, unsplit}
    with pytest.raises(ReviewError, match="LABEL=VALUE"):
        parse_match("prod")
