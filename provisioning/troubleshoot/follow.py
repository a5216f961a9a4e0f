"""Tail Loki: poll for entries newer than those already shown, without repeating any, until told to stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from provisioning.lokiquery import Entry, Reader
from provisioning.troubleshoot.search import logql_key

NS = 1_000_000_000


def follow(reader: Reader, query: str, floor_ns: int, stop: threading.Event, *,
           seen: set[tuple[int, str, str]] | None = None, interval: float = 1.0, overlap_s: float = 5.0,
           clock: Callable[[], int] = time.time_ns) -> Iterator[Entry]:
    """Yield each new entry once, polling every ``interval`` seconds until ``stop`` is set.

    Each poll reads from ``overlap_s`` before the previous poll's end (never before ``floor_ns``), so an entry
    that reaches Loki a little after its own timestamp (batching clients) is still shown; entries already shown
    are remembered by (timestamp, stream, line) and skipped.

    Args:
        floor_ns: show nothing older than this (the newest entry already shown, or the range's start).
        seen: keys of the entries already shown at or after ``floor_ns``.
    """
    shown = set(seen or ())
    previous_end = floor_ns
    overlap_ns = int(overlap_s * NS)
    while not stop.is_set():
        end = clock()
        start = max(floor_ns, previous_end - overlap_ns)
        if end > start:
            for entry in reader.entries(query, start, end):
                key = entry_key(entry)
                if key not in shown:
                    shown.add(key)
                    yield entry
            previous_end = end
            horizon = max(floor_ns, end - overlap_ns)
            shown = {k for k in shown if k[0] >= horizon}
        stop.wait(interval)


def entry_key(entry: Entry) -> tuple[int, str, str]:
    return entry.timestamp_ns, logql_key(entry.labels), entry.line
