"""review retention's pure parts: the rule that keeps a stream, groups and averages, suggestions, Loki's query log."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from provisioning import config
from provisioning.review import querylog, retention
from provisioning.review.backtest import label_set

ROOT = Path(__file__).resolve().parents[2]
DAY = retention.DAY


@pytest.fixture(scope="module")
def cfg() -> config.Config:
    return config.load(ROOT / "tracklog.yaml")


def test_each_stream_gets_its_log_types_rule(cfg: config.Config) -> None:
    seconds, rule = retention.retention_of(cfg, {"log_type": "audit", "service": "web"})
    assert seconds == 180 * DAY
    assert rule.startswith('{log_type="audit"} (tracklog.yaml:')
    assert retention.retention_of(cfg, {"log_type": "debug"}) == (None, "no rule: Loki's global retention")


def hourly(per_day: list[float], first_hour: int = 0) -> list[float]:
    """Each day's value in one hour of it (``first_hour`` of the day), the other hours empty."""
    return [v if h == first_hour else 0.0 for v in per_day for h in range(24)]


def test_groups_sum_finer_series_by_day_and_average_from_the_first_hour_seen(cfg: config.Config) -> None:
    app = label_set({"log_type": "application", "service": "api", "level": "info"})
    app_err = label_set({"log_type": "application", "service": "api", "level": "error"})
    [group] = retention.groups(cfg, {app: hourly([0, 100, 300], 12), app_err: hourly([0, 0, 100], 12)},
                               {app: hourly([0, 1, 3], 12), app_err: hourly([0, 0, 1], 12)}, 3)
    assert (group.bytes_per_day, group.lines_per_day) == ((0, 100, 400), (0, 1, 4))
    assert group.days_seen == 1.5  # from hour 12 of the second day to the end of the third
    assert group.average_bytes == 500 / 1.5
    assert group.retention_seconds == 30 * DAY
    assert group.steady_bytes == pytest.approx(500 / 1.5 * 30)


def test_a_service_that_began_logging_an_hour_ago_is_not_averaged_over_the_week(cfg: config.Config) -> None:
    new = label_set({"log_type": "system", "service": "new"})
    old = label_set({"log_type": "system", "service": "old"})
    week = [0.0] * (7 * 24 - 1) + [240.0]
    [newer, older] = retention.groups(cfg, {new: week, old: [10.0] * (7 * 24)}, {}, 7)
    assert (newer.service, newer.days_seen, newer.average_bytes) == ("new", 1 / 24, 240 * 24)
    assert (older.service, older.days_seen, older.average_bytes) == ("old", 7, 240)


def test_a_log_type_read_back_2_days_but_kept_30_gets_a_suggestion(cfg: config.Config) -> None:
    group = retention.Group("application", "api", (1e9, 1e9), (1, 1), int(30 * DAY), "r", seen_seconds=2 * DAY)
    [s] = retention.suggest(cfg, [group], {"application": (50, 1.5 * DAY)}, compression=10.0, price=0.023)
    assert (s.suggested_days, s.retention_days, s.queries) == (2, 30, 50)
    assert s.saved_gb == pytest.approx(1e9 * 28 / 10 / 1e9)
    assert s.caveat == ""
    assert retention.suggest(cfg, [group], {"application": (5, 1.5 * DAY)}, None, 0.023) == []  # too few queries
    audit = dataclasses.replace(group, log_type="audit")
    [s] = retention.suggest(cfg, [audit], {"audit": (50, DAY)}, None, 0.023)
    assert "compliance" in s.caveat


def test_the_query_log_gives_each_log_types_reach() -> None:
    lines = [
        'level=info ts=2026-12-04T10:00:00Z caller=metrics.go:83 org_id=fake latency=fast '
        'query="sum(count_over_time({log_type=\\"application\\"}[5m]))" query_type=metric range_type=range '
        'length=48h0m0s step=1m0s duration=12ms status=200',
        'level=info caller=metrics.go:83 query="{log_type=~\\"audit|security\\"} |= \\"x\\"" length=720h0m0s',
        'level=info caller=metrics.go:83 query="{service=\\"api\\"}" length=1h0m0s',
        "level=warn caller=something.go msg=unrelated",
    ]
    reach = querylog.read(lines, ["application", "system", "audit", "security"])
    assert reach["application"].max_seconds == 48 * 3600 + 300
    assert reach["application"].queries == 2  # its own, and the one that names no log type
    assert reach["audit"].max_seconds == 720 * 3600
    assert reach["system"].queries == 1
    assert querylog.go_duration("1h30m0.5s") == 5400.5
    assert querylog.go_duration("soon") is None
