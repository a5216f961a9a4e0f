"""LokiClient logic with a scripted fake transport: batching, retries, rejects, splits, spool, shutdown."""

from __future__ import annotations

import threading
import time

import pytest

from exporters.loki import Backoff, LokiClient, Response, TransportError
from exporters.loki.encode import Entry, encode_json, encode_protobuf, group
from exporters.loki.labels import label_set, render, sanitize_name
from exporters.testing import FakeTransport, decode

FAST = Backoff(min_seconds=0.01, max_seconds=0.05)
LABELS = label_set({"service": "api", "log_type": "application", "level": "info"})


def make(transport: FakeTransport, **kw) -> LokiClient:
    kw.setdefault("batch_max_wait", 0.05)
    kw.setdefault("backoff", FAST)
    kw.setdefault("encoding", "json")
    return LokiClient(transport=transport, **kw)


def push_n(client: LokiClient, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        assert client.push(LABELS, 1_700_000_000_000_000_000 + i, f"line {i}")


@pytest.mark.parametrize("encoding", ["json", "protobuf"])
def test_every_line_arrives_once_in_order_with_its_own_timestamp(encoding):
    fake = FakeTransport()
    client = make(fake, encoding=encoding)
    push_n(client, 500)
    assert client.flush(5)
    assert fake.lines() == [f"line {i}" for i in range(500)]
    assert [ts for _, ts, _ in fake.accepted] == [1_700_000_000_000_000_000 + i for i in range(500)]
    assert fake.accepted[0][0] == dict(LABELS)
    assert client.stats.sent == 500
    client.close()


def test_batches_by_size():
    fake = FakeTransport()
    client = make(fake, batch_max_bytes=10_000, batch_max_wait=10)
    for i in range(200):
        client.push(LABELS, i + 1, "x" * 100 + str(i))
    assert client.flush(5)
    assert len(fake.requests) >= 3  # 200 * ~165 bytes over 10 kB batches
    assert len(fake.lines()) == 200
    client.close()


@pytest.mark.parametrize("failure", [429, 500, 503, TransportError("connection refused")])
def test_retryable_failures_are_retried_until_accepted(failure):
    fake = FakeTransport([failure, failure, failure])
    client = make(fake)
    push_n(client, 10)
    assert client.flush(5)
    assert fake.lines() == [f"line {i}" for i in range(10)]
    assert client.stats.retries == 3
    assert sum(client.stats.dropped.values()) == 0
    client.close()


def test_retry_after_is_honoured():
    fake = FakeTransport([Response(429, "slow down", "0.3")])
    client = make(fake)
    push_n(client, 1)
    started = time.monotonic()
    assert client.flush(5)
    assert time.monotonic() - started >= 0.3
    client.close()


def test_a_400_for_the_whole_push_splits_it_and_delivers_the_rest():
    fake = FakeTransport([400])  # a reason Loki does not name: the whole push was refused, once
    client = make(fake)
    push_n(client, 7)
    assert client.flush(5)
    assert fake.lines() == [f"line {i}" for i in range(7)]  # both halves went again, and arrived
    assert client.stats.dropped["rejected"] == 0
    assert "400" in client.stats.last_error
    client.close()


def test_a_413_splits_the_batch_until_the_parts_fit():
    fake = FakeTransport([413, 413])
    client = make(fake, batch_max_wait=10)
    push_n(client, 8)
    assert client.flush(5)
    assert sorted(fake.lines()) == sorted(f"line {i}" for i in range(8))
    assert client.stats.dropped["too_large"] == 0
    client.close()


def test_a_single_line_still_too_large_is_dropped_and_counted():
    fake = FakeTransport([413] * 10)
    client = make(fake)
    push_n(client, 1)
    assert client.flush(5)
    assert client.stats.dropped["too_large"] == 1
    client.close()


def test_long_lines_are_truncated_with_a_marker_not_lost():
    fake = FakeTransport()
    client = make(fake, max_line_bytes=1000)
    client.push(LABELS, 1, "é" * 5000)
    assert client.flush(5)
    (line,) = fake.lines()
    assert len(line.encode()) <= 1000
    assert line.endswith("bytes]")
    assert "truncated" in line
    assert client.stats.truncated == 1
    client.close()


def test_full_buffer_drops_and_counts_without_blocking():
    gate = threading.Event()

    class Stuck(FakeTransport):
        def send(self, batch):
            gate.wait(5)
            return super().send(batch)

    client = make(Stuck(), buffer_max_bytes=5_000, batch_max_bytes=1_000)
    started = time.monotonic()
    results = [client.push(LABELS, i + 1, "y" * 100) for i in range(200)]
    assert time.monotonic() - started < 2  # the caller never waited on the stuck transport
    assert results.count(False) == client.stats.dropped["buffer_full"] > 0
    gate.set()
    client.close()


def test_outage_spills_to_spool_and_replays_in_order(tmp_path):
    down = threading.Event()
    down.set()

    class Outage(FakeTransport):
        def send(self, batch):
            if down.is_set():
                self.requests.append(batch)
                raise TransportError("connection refused")
            return super().send(batch)

    fake = Outage()
    client = make(fake, spool_dir=tmp_path, spool_name="svc", buffer_max_bytes=20_000, batch_max_bytes=2_000)
    for i in range(600):
        assert client.push(LABELS, 1_000 + i, f"line {i} " + "z" * 40)
        time.sleep(0.0005)
    deadline = time.monotonic() + 5
    while client.stats.spooled == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.stats.spooled > 0
    down.clear()
    assert client.flush(10)
    deadline = time.monotonic() + 10
    while len(fake.accepted) < 600 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [line.split()[1] for line in fake.lines()] == [str(i) for i in range(600)]
    assert sum(client.stats.dropped.values()) == 0
    assert list(tmp_path.glob("svc/*.seg")) == []
    client.close()


def test_spool_left_by_a_dead_process_is_replayed_by_the_next(tmp_path):
    first = make(FakeTransport([TransportError("down")] * 1000), spool_dir=tmp_path, spool_name="svc",
                 flush_timeout=0.3)
    push_n(first, 25)
    first.close()  # Loki never answered: what is left goes to the spool
    assert first.stats.spooled == 25
    fake = FakeTransport()
    second = make(fake, spool_dir=tmp_path, spool_name="svc")
    push_n(second, 1, start=25)
    assert second.flush(5)
    deadline = time.monotonic() + 5
    while len(fake.accepted) < 26 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.lines() == [f"line {i}" for i in range(26)]
    second.close()


def test_close_is_bounded_on_a_hung_loki_and_reports_what_it_could_not_send(caplog):
    hang = threading.Event()

    class Hung(FakeTransport):
        def send(self, batch):
            hang.wait(30)
            raise TransportError("read timed out")

    client = make(Hung(), flush_timeout=0.5)
    push_n(client, 5)
    started = time.monotonic()
    with caplog.at_level("WARNING", logger="tracklog.internal"):
        client.close()
    assert time.monotonic() - started < 3
    assert client.stats.dropped["shutdown_timeout"] == 5
    assert "did not take 5 record(s)" in caplog.text
    hang.set()


def test_lines_racing_between_threads_never_go_backwards_in_a_stream():
    fake = FakeTransport()
    client = make(fake)
    client.push(LABELS, 2_000, "newer")
    assert client.flush(5)
    client.push(LABELS, 1_999, "raced")
    assert client.flush(5)
    assert [ts for _, ts, _ in fake.accepted] == [2_000, 2_000]
    client.close()


def test_encoders_round_trip_labels_and_lines():
    entries = [Entry(label_set({"service": 'we"ird\\', "level": "info"}), 1_700_000_000_123_456_789, "ünïcode ✓")]
    for encoded in (encode_json(group(entries)), encode_protobuf(group(entries))):
        assert decode(encoded) == [({"level": "info", "service": 'we"ird\\'}, 1_700_000_000_123_456_789, "ünïcode ✓")]


def test_label_names_are_sanitized():
    assert sanitize_name("http.route") == "http_route"
    assert sanitize_name("9lives") == "_9lives"
    assert render(label_set({"a-b": "x", "empty": ""})) == '{a_b="x"}'


def test_a_batch_goes_out_by_age_without_anyone_calling_flush():
    fake = FakeTransport()
    client = make(fake, batch_max_wait=0.05)
    client.push(LABELS, 1, "first")
    deadline = time.monotonic() + 5
    while not fake.accepted and time.monotonic() < deadline:
        time.sleep(0.01)
    client.push(LABELS, 2, "after an idle sender")
    while len(fake.accepted) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.lines() == ["first", "after an idle sender"]
    client.close()


def test_a_process_that_logs_nothing_still_replays_the_spool_it_inherits(tmp_path):
    first = make(FakeTransport([TransportError("down")] * 1000), spool_dir=tmp_path, spool_name="svc",
                 flush_timeout=0.3)
    push_n(first, 12)
    first.close()
    assert first.stats.spooled == 12
    fake = FakeTransport()
    second = make(fake, spool_dir=tmp_path, spool_name="svc", flush_timeout=5)
    second.close()  # never pushed a record: the replay must still happen within the flush bound
    assert fake.lines() == [f"line {i}" for i in range(12)]
    assert list(tmp_path.glob("svc/*.seg")) == []


def test_callers_hand_the_gil_to_the_sender_only_while_it_is_a_batch_behind(monkeypatch):
    release = threading.Event()

    class StuckUntilReleased(FakeTransport):
        def send(self, batch):
            release.wait(10)
            return super().send(batch)

    yields: list[float] = []
    real_sleep = time.sleep
    monkeypatch.setattr(time, "sleep", lambda s: yields.append(s) if s == 0 else real_sleep(s))
    keeping_up = make(FakeTransport(), batch_max_bytes=1 << 30, batch_max_wait=60)
    push_n(keeping_up, 1000)
    assert yields == []  # a sender with nothing to catch up on is never handed the GIL
    keeping_up.close(1)

    behind_transport = StuckUntilReleased()
    behind = make(behind_transport, batch_max_bytes=2_000, batch_max_wait=60)  # ~30 lines a batch
    push_n(behind, 1000)  # the sender holds its first batch in a send that does not return
    assert yields
    assert set(yields) == {0}
    assert len(yields) <= 1000 // 64  # once per 64 lines at most
    release.set()
    assert behind.flush(5)
    assert len(behind_transport.lines()) == 1000
    behind.close(1)
