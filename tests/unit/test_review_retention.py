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


def test_groups_sum_finer_series_and_average_from_the_first_day_seen(cfg: config.Config) -> None:
    app = label_set({"log_type": "application", "service": "api", "level": "info"})
    app_err = label_set({"log_type": "application", "service": "api", "level": "error"})
    [group] = retention.groups(cfg, {app: [0, 100, 300], app_err: [0, 0, 100]}, {app: [0, 1, 3], app_err: [0, 0, 1]}, 3)
    assert (group.bytes_per_day, group.lines_per_day) == ((0, 100, 400), (0, 1, 4))
    assert group.days_seen == 2
    assert group.average_bytes == 250
    assert group.retention_seconds == 30 * DAY
    assert group.steady_bytes == 250 * 30


def test_a_log_type_read_back_2_days_but_kept_30_gets_a_suggestion(cfg: config.Config) -> None:
    group = retention.Group("application", "api", (1e9, 1e9), (1, 1), int(30 * DAY), "r")
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
