"""LokiReader.entries pages forward through Loki's limit, fetching the next page while the caller reads the current
one: every entry once and in order across page boundaries inside runs of equal timestamps, a caller that stops early
does not wait for the page in flight, and a failing page is the caller's error. Loki's answers come from a list of
entries held here (the integration test tests/integration/test_lokiquery.py does the same against the real Loki)."""

from __future__ import annotations

import threading
import time

import pytest

from provisioning.lokiquery import LokiQueryError, LokiReader


class FakeLoki(LokiReader):
    """query_range over a fixed list of (timestamp, line), forward, at most `limit` from `start`, as Loki answers."""

    def __init__(self, entries: list[tuple[int, str]], delay: float = 0.0) -> None:
        self.url, self.tenant = "http://loki.invalid", ""
        self.data = sorted(entries)
        self.delay = delay
        self.calls: list[tuple[int, str]] = []  # (start, thread name)
        self.fail_from: int | None = None

    def query_range(self, query, start_ns, end_ns, limit=5000, direction="forward", step=None):
        self.calls.append((start_ns, threading.current_thread().name))
        if self.fail_from is not None and start_ns >= self.fail_from:
            raise LokiQueryError("Loki at http://loki.invalid answered 500")
        time.sleep(self.delay)
        page = [(ts, line) for ts, line in self.data if start_ns <= ts < end_ns][:limit]
        return {"result": [{"stream": {"service": "s"}, "values": [[str(ts), line] for ts, line in page]}]}


def test_every_entry_once_in_order_across_pages_and_equal_timestamps():
    entries = [(t // 3, f"line {t}") for t in range(1, 100)]  # three lines per timestamp, pages of 7
    loki = FakeLoki(entries)
    got = [(e.timestamp_ns, e.line) for e in loki.entries("{}", 0, 1000, page=7)]
    assert got == sorted(entries)
    assert len({start for start, _ in loki.calls}) == len(loki.calls)  # each page starts at a new cursor


def test_the_next_page_is_fetched_while_the_caller_reads():
    loki = FakeLoki([(t, f"line {t}") for t in range(20)], delay=0.05)
    reader = loki.entries("{}", 0, 100, page=5)
    next(reader)  # the first page is here; its last timestamp is known, so the next page is already on its way
    deadline = time.monotonic() + 5
    while len(loki.calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(loki.calls) == 2
    assert all(name.startswith("loki-page") for _, name in loki.calls)
    assert len(list(reader)) == 19


def test_a_caller_that_stops_early_does_not_wait_for_the_page_in_flight():
    loki = FakeLoki([(t, f"line {t}") for t in range(20)])
    release = threading.Event()
    answer = loki.query_range

    def held(*args, **kwargs):
        if len(loki.calls) >= 1:  # every page after the first waits until the test releases it
            release.wait()
        return answer(*args, **kwargs)

    loki.query_range = held  # type: ignore[method-assign]
    reader = loki.entries("{}", 0, 100, page=5)
    next(reader)
    closing = threading.Thread(target=reader.close)
    closing.start()
    closing.join(10)  # a liveness guard, not a measurement: close() must not wait for the held page
    stuck = closing.is_alive()
    release.set()
    assert not stuck, "closing the reader waited for the page in flight"


def test_a_page_that_fails_raises_in_the_caller_after_the_pages_before_it():
    loki = FakeLoki([(t, f"line {t}") for t in range(20)])
    loki.fail_from = 8
    seen: list[int] = []

    def read_all() -> None:
        seen.extend(entry.timestamp_ns for entry in loki.entries("{}", 0, 100, page=5))

    with pytest.raises(LokiQueryError, match="answered 500"):
        read_all()
    assert seen == list(range(9))  # pages [0..4] and [4..8] (4 once); the page from 8 failed
