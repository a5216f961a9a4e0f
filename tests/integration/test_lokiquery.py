"""LokiReader pages through the real Loki without losing or repeating a line, even across equal timestamps."""

from __future__ import annotations

import time

import pytest
import requests

from provisioning import config
from provisioning.lokiquery import LokiQueryError, LokiReader
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
