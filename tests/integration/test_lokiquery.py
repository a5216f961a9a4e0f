"""LokiReader pages through the real Loki without losing or repeating a line, even across equal timestamps, days and
streams; `tracklog logs`' newest N are the same over 24h and 30d."""

from __future__ import annotations

import time

import pytest
import requests

from provisioning import config
from provisioning.lokiquery import LokiQueryError, LokiReader
from provisioning.troubleshoot.search import newest
from tests.integration.conftest import ROOT, wait_for


def test_paging_returns_every_line_once_in_order(loki_url: str) -> None:
    service = f"it-paging-{time.time_ns() % 10**9}"
    base = time.time_ns() - 60 * 10**9
    # 23 lines; groups of four share a timestamp, so page boundaries fall inside equal timestamps.
    values = [[str(base + (i // 4) * 1000), f"line {i:02d}"] for i in range(23)]
    answer = requests.post(f"{loki_url}/loki/api/v1/push", timeout=10,
                           json={"streams": [{"stream": {"service": service}, "values": values}]})
    assert answer.status_code == 204, answer.text
    reader = LokiReader(config.load(ROOT / "tracklog.yaml"))
    query = f'{{service="{service}"}}'
    wait_for(lambda: len(list(reader.entries(query, base - 10**9, time.time_ns()))) == 23, what="23 lines")
    lines = [e.line for e in reader.entries(query, base - 10**9, time.time_ns(), page=5)]
    assert sorted(lines) == [f"line {i:02d}" for i in range(23)]
    assert len(lines) == 23


def test_an_unreachable_loki_and_a_bad_range_are_explained(monkeypatch) -> None:
    monkeypatch.setenv("TRACKLOG_LOKI_URL", "http://127.0.0.1:9")
    reader = LokiReader(config.load(ROOT / "tracklog.yaml"))
    with pytest.raises(LokiQueryError, match=r"Loki at http://127.0.0.1:9 is unreachable"):
        reader.instant('count_over_time({service="x"}[1m])')
    with pytest.raises(LokiQueryError, match="empty or reversed"):
        reader.query_range('{service="x"}', 10, 5)


def test_equal_lines_at_equal_times_in_two_streams_are_both_returned(loki_url: str) -> None:
    service = f"it-twins-{time.time_ns() % 10**9}"
    ts = str(time.time_ns() - 30 * 10**9)
    for copy in ("a", "b"):
        answer = requests.post(f"{loki_url}/loki/api/v1/push", timeout=10, json={"streams": [
            {"stream": {"service": service, "copy": copy}, "values": [[ts, "same line"]]}]})
        assert answer.status_code == 204, answer.text
    reader = LokiReader(config.load(ROOT / "tracklog.yaml"))
    query = f'{{service="{service}"}}'
    entries = wait_for(lambda: (e := list(reader.entries(query, int(ts) - 10**9, time.time_ns()))) and len(e) == 2
                       and e, what="both twins")
    assert sorted(e.labels["copy"] for e in entries) == ["a", "b"]


DAY_NS = 86_400 * 10**9


def _push_groups(loki_url: str, service: str, end_ns: int) -> list[tuple[int, str, str]]:
    """Groups of 8 records sharing one nanosecond (4 streams x 2 lines) spread over 20 days before ``end_ns``,
    with groups exactly at the start of the last 24h (inside it) and exactly at ``end_ns`` (outside every range).

    Returns every record pushed as (timestamp, stream, line).
    """
    offsets = [20 * DAY_NS, 10 * DAY_NS, 3 * DAY_NS, DAY_NS + 1, DAY_NS, DAY_NS - 1, 6 * 3600 * 10**9, 10**9 + 7, 1, 0]
    streams = ["a", "b", "c", "d"]
    pushed = [(end_ns - offset, copy, f"g{g:02d} {copy} line {n}")
              for g, offset in enumerate(offsets) for copy in streams for n in range(2)]
    for copy in streams:  # Loki 2.2 wants each stream in time order
        values = [[str(ts), line] for ts, c, line in sorted(pushed) if c == copy]
        answer = requests.post(f"{loki_url}/loki/api/v1/push", timeout=10, json={"streams": [
            {"stream": {"service": service, "copy": copy}, "values": values}]})
        assert answer.status_code == 204, answer.text
    return pushed


def test_every_record_comes_once_over_24h_and_30d_across_pages_days_and_equal_timestamps(loki_url: str) -> None:
    service = f"it-boundary-{time.time_ns() % 10**9}"
    end = time.time_ns() - 5 * 10**9
    pushed = _push_groups(loki_url, service, end)
    reader = LokiReader(config.load(ROOT / "tracklog.yaml"))
    query = f'{{service="{service}"}}'
    wait_for(lambda: len(list(reader.entries(query, end - 30 * DAY_NS, end + 1))) == len(pushed),
             what=f"all {len(pushed)} records")

    for days in (1, 30):
        start = end - days * DAY_NS
        expected = sorted((ts, copy, line) for ts, copy, line in pushed if start <= ts < end)
        assert len(expected) == (40 if days == 1 else 72)  # [start, end): the group at start in, the one at end out
        for page in (9, 10, 13, 5000):  # the pages end inside groups of equal timestamps
            got = [(e.timestamp_ns, e.labels["copy"], e.line) for e in reader.entries(query, start, end, page=page)]
            assert got == sorted(got), f"{days}d, page {page}: not oldest first"
            assert sorted(got) == expected, f"{days}d, page {page}: lost or repeated records"
        for limit in (8, 16, 24, 40):  # what `tracklog logs -n N` shows: the newest N
            got = [(e.timestamp_ns, e.labels["copy"], e.line) for e in newest(reader, query, start, end, limit)]
            assert sorted(got) == expected[-limit:], f"{days}d, newest {limit}"
        assert [(e.timestamp_ns, e.line) for e in newest(reader, query, start, end, 0)] == [
            (ts, line) for ts, _, line in expected]
