"""LokiClient: the one push client. Callers enqueue; a sender thread batches, retries, spools and counts.

Order of delivery is first-in first-out: the batch in flight, then the spool (oldest segment first), then the
queue. Keeping that order lets a backlog sent after an outage keep its real timestamps even on a Loki that
rejects out-of-order lines.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from exporters.loki import refusal
from exporters.loki.encode import ENCODERS, Encoded, Entry, group
from exporters.loki.labels import LabelSet
from exporters.loki.retry import Backoff, is_retryable, retry_after_seconds
from exporters.loki.spool import CorruptSegment, Spool, SpoolFull
from exporters.loki.transport import HttpTransport, Transport, TransportError
from exporters.truncate import TRUNCATION_MARKER

internal_log = logging.getLogger("tracklog.internal")
_new_tuple = tuple.__new__
_YIELD_EVERY = 63  # a mask: the caller yields the GIL to a busy sender once per 64 accepted lines
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
DROP_REASONS = ("buffer_full", "rejected", "too_large", "spool_full", "shutdown_timeout", "spool_corrupt",
                "handler_error")


@dataclass
class ClientStats:
    """Counters the sender thread updates; read at scrape time by exporters.selfmetrics."""

    accepted: int = 0
    sent: int = 0
    batches: int = 0
    bytes_sent: int = 0
    retries: int = 0
    truncated: int = 0
    spooled: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DROP_REASONS, 0))
    latency_buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    latency_sum: float = 0.0
    last_error: str = ""
    refused: dict[str, int] = field(default_factory=dict)  # entries Loki refused (answered 400), by Loki's reason

    def observe_latency(self, seconds: float) -> None:
        for i, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                self.latency_buckets[i] += 1
                break
        else:
            self.latency_buckets[-1] += 1
        self.latency_sum += seconds


class _Outcome:
    DONE, RETRY_LATER = "done", "retry"


class LokiClient:
    """A bounded, batching, retrying, spooling push client for Loki.

    Args:
        url: Loki's base URL or push URL (ignored when ``transport`` is given).
        transport: anything with ``send(Encoded) -> Response``; defaults to :class:`HttpTransport`.
        encoding: ``"json"`` (gzip; the default: 2.35x fewer bytes than protobuf + snappy and 1.2x cheaper to
            build, `python -m bench encoding`) or ``"protobuf"`` (snappy, Loki's native format).
        batch_max_bytes / batch_max_wait: a batch is sent when it holds this many bytes or its oldest line is this old.
            2 MiB (Promtail's is 1 MiB): half the requests at the same latency bound, and a fast logger's callers wait
            less on the sender (`python -m bench loki`); Loki's default 4 MB gRPC message limit leaves 2x headroom.
        buffer_max_bytes: memory bound of the queue; past half of it, a stalled sender spills to the spool.
        spool_dir: directory for the disk spool; ``None`` keeps everything in memory (and drops when full).
        max_line_bytes: longer lines are truncated with a marker (Loki's ``max_line_size``).
        flush_timeout: how long ``close()`` (and interpreter exit) may take at most.
        tenant: Loki's X-Scope-OrgID for every push (multi-tenant Loki); ``None`` sends none.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        transport: Transport | None = None,
        transport_factory: Callable[[], Transport] | None = None,
        encoding: str = "json",
        batch_max_bytes: int = 2 << 20,
        batch_max_wait: float = 1.0,
        buffer_max_bytes: int = 64 << 20,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_name: str = "tracklog",
        spool_max_bytes: int = 1 << 30,
        max_line_bytes: int = 256 * 1024,
        backoff: Backoff | None = None,
        flush_timeout: float = 5.0,
        tenant: str | None = None,
        auth: tuple[str, str] | None = None,
        bearer_token: str | None = None,
        verify: bool | str = True,
    ) -> None:
        if transport is None and transport_factory is None:
            if not url:
                raise ValueError("LokiClient needs a url or a transport")
            transport_factory = lambda: HttpTransport(  # noqa: E731
                url, tenant=tenant, auth=auth, bearer_token=bearer_token, verify=verify
            )
        self._transport_factory = transport_factory or (lambda: transport)  # type: ignore[return-value]
        self.tenant = tenant or None
        if encoding not in ENCODERS:
            raise ValueError(f"encoding must be one of {', '.join(ENCODERS)}, got {encoding!r}")
        self.encoding = encoding
        self._encode = ENCODERS[encoding]
        self.batch_max_bytes = batch_max_bytes
        self.batch_max_wait = batch_max_wait
        self.buffer_max_bytes = buffer_max_bytes
        self.max_line_bytes = max_line_bytes
        self.backoff = backoff or Backoff()
        self.flush_timeout = flush_timeout
        self.spool = Spool(spool_dir, spool_name, spool_max_bytes) if spool_dir else None
        self.stats = ClientStats()
        self._closed = False
        self._reset_runtime_state()
        _LIVE_CLIENTS.add(self)
        if self.spool is not None and self.spool.open_existing() > 0:
            self._start()  # replay what an earlier process left, without waiting for the first record
        os.register_at_fork(after_in_child=_weak_call(self, "_after_fork"))

    # -- caller side -------------------------------------------------------------------------------------

    def push(
        self,
        labels: LabelSet,
        timestamp_ns: int,
        line: str,
        metadata: tuple[tuple[str, str], ...] = (),
    ) -> bool:
        """Enqueue one line; never blocks on the network. Returns False if it had to be dropped (and counted)."""
        if len(line) * 4 > self.max_line_bytes:
            line = self._truncate(line)
        size = len(line) + 64
        with self._lock:  # the condition's own lock: notify() below is legal, without Condition's wrapper calls
            if self._queue_bytes + size > self.buffer_max_bytes or self._closed:
                self.stats.dropped["buffer_full" if not self._closed else "shutdown_timeout"] += 1
                self._note_drop("buffer_full" if not self._closed else "shutdown_timeout")
                return False
            self._queue.append(_new_tuple(Entry, (labels, timestamp_ns, line, metadata)))  # Entry(...) w/o __new__
            self._queue_bytes += size
            self.stats.accepted += 1
            if not self._oldest_enqueued:
                # The queue was empty, so the sender sleeps without a deadline: wake it to start the age clock.
                self._oldest_enqueued = time.monotonic()
                self._cond.notify()
            elif self._queue_bytes >= self.batch_max_bytes > self._queue_bytes - size:
                # Only the push that fills a batch wakes the sender; it checks the queue before it ever waits.
                self._cond.notify()
        if self._thread is None:
            self._start()
        elif not self.stats.accepted & _YIELD_EVERY and self._queue_bytes >= self.batch_max_bytes:
            # A caller that never blocks keeps the GIL for the whole switch interval (5 ms) each time the busy sender
            # thread wakes from I/O and needs it back, a few times per batch: the sender falls behind a fast logger
            # (the convoy effect). Handing the GIL over every few hundred microseconds costs ~1 µs each time.
            time.sleep(0)
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every line accepted before this call is sent, spooled or counted as dropped."""
        timeout = self.flush_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self.stats.accepted
            self._flush_requested = True
            self._cond.notify_all()
            while self._resolved < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._thread is None or not self._thread.is_alive():
                    return self._resolved >= target
                self._cond.wait(min(remaining, 0.1))
            return True

    def close(self, timeout: float | None = None) -> None:
        """Send what is queued within ``timeout`` seconds; spool (or count as dropped) what is left. Idempotent."""
        if self._closed:
            return
        timeout = self.flush_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        self.flush(timeout)
        # Lines spooled earlier (this process's outage, or a previous process's) get what time is left.
        while (self.spool is not None and len(self.spool) and time.monotonic() < deadline
               and self._thread is not None and self._thread.is_alive()):
            time.sleep(0.05)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        leftovers: list[Entry] = []
        with self._cond:
            if self._inflight and not self._inflight_from_spool:
                leftovers.extend(self._inflight)
            self._inflight = []
            leftovers.extend(self._queue)
            self._queue.clear()
            self._queue_bytes = 0
        if leftovers:
            self._spool_or_drop(leftovers, "shutdown_timeout")
            where = f"spooled to {self.spool.directory}" if self.spool and self.stats.spooled else "dropped"
            message = (
                f"tracklog: Loki did not take {len(leftovers)} record(s) within {timeout:.1f}s at shutdown; "
                f"{where} (last error: {self.stats.last_error or 'none'})"
            )
            internal_log.warning(message)
        if self.spool is not None:
            self.spool.close()
        _LIVE_CLIENTS.discard(self)

    def count_drop(self, reason: str, detail: str = "", count: int = 1) -> None:
        """Count records a caller of this client gave up on (e.g. a handler that failed), and log it rate-limited."""
        self.stats.dropped[reason] = self.stats.dropped.get(reason, 0) + count
        self._note_drop(reason, detail)

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    @property
    def queue_bytes(self) -> int:
        return self._queue_bytes

    # -- sender thread -----------------------------------------------------------------------------------

    def _reset_runtime_state(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._queue: collections.deque[Entry] = collections.deque()
        self._queue_bytes = 0
        self._oldest_enqueued = 0.0
        self._inflight: list[Entry] = []
        self._inflight_from_spool = False
        self._resolved = 0
        self._flush_requested = False
        self._thread: threading.Thread | None = None
        self._last_ts: dict[LabelSet, int] = {}
        self._last_drop_log: dict[str, float] = {}

    def _start(self) -> None:
        with self._cond:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="tracklog-loki-sender", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        transport = self._transport_factory()
        try:
            while True:
                batch, from_spool = self._next_batch()
                if batch is None:
                    return
                outcome = self._deliver(transport, batch, from_spool is not None)
                if outcome == _Outcome.DONE and from_spool is not None and self.spool is not None:
                    self.spool.remove(from_spool)
        finally:
            transport.close()

    def _next_batch(self) -> tuple[list[Entry] | None, Path | None]:
        """Wait for work; the spool goes before the queue so that order is kept."""
        if self._closed:
            return None, None
        if self.spool is not None and len(self.spool):
            try:
                found = self.spool.oldest()
            except CorruptSegment as exc:
                self.stats.dropped["spool_corrupt"] += 1
                internal_log.error("%s", exc)
                return [], None
            if found is not None:
                path, entries = found
                with self._cond:
                    self._inflight, self._inflight_from_spool = entries, True
                return entries, path
        with self._cond:
            while True:
                if self._closed and not self._queue:
                    return None, None
                age = time.monotonic() - self._oldest_enqueued if self._queue else 0.0
                if self._queue and (
                    self._queue_bytes >= self.batch_max_bytes or age >= self.batch_max_wait
                    or self._flush_requested or self._closed
                ):
                    break
                if not self._queue:
                    self._flush_requested = False
                wait = self.batch_max_wait - age if self._queue else None
                self._cond.wait(wait)
            if self._queue_bytes <= self.batch_max_bytes:  # the usual case: everything queued fits in one batch
                batch = list(self._queue)
                self._queue.clear()
                self._queue_bytes = 0
            else:
                batch = []
                size = 0
                while self._queue and size < self.batch_max_bytes:
                    entry = self._queue.popleft()
                    batch.append(entry)
                    size += len(entry.line) + 64
                self._queue_bytes -= size
            self._oldest_enqueued = time.monotonic() if self._queue else 0.0
            if not self._queue:
                self._flush_requested = False
            self._inflight, self._inflight_from_spool = batch, False
            return batch, None

    def _deliver(self, transport: Transport, batch: list[Entry], from_spool: bool = False) -> str:
        """Send one batch until Loki takes it, rejects it for good, or the client closes.

        Lines replayed from the spool were already counted as resolved when they were spooled.
        """
        attempt = 0
        while True:
            if not batch:
                self._resolve([], from_spool)
                return _Outcome.DONE
            streams = self._in_stream_order(batch)
            encoded = self._encode(streams)
            started = time.monotonic()
            try:
                answer = transport.send(encoded)
                status, text, retry_after = answer.status, answer.text, answer.retry_after
            except TransportError as exc:
                status, text, retry_after = 0, str(exc), None
            if 200 <= status < 300:
                self.stats.observe_latency(time.monotonic() - started)
                self._mark_sent(streams)
                self.stats.sent += len(batch)
                self.stats.batches += 1
                self.stats.bytes_sent += len(encoded.body)
                self._resolve(batch, from_spool)
                return _Outcome.DONE
            self.stats.last_error = f"{status or 'no answer'}: {text.strip()[:200]}"
            if status == 413 and len(batch) > 1:
                return self._in_halves(transport, batch, from_spool)
            if status == 400:
                return self._refused(transport, batch, text, from_spool)
            if status and not is_retryable(status):
                reason = "too_large" if status == 413 else "rejected"
                self.stats.dropped[reason] += len(batch)
                self._note_drop(reason, f"Loki answered {status}: {text.strip()[:300]}")
                self._resolve(batch, from_spool)
                return _Outcome.DONE
            self.stats.retries += 1
            delay = retry_after_seconds(retry_after) if status == 429 else None
            if delay is None:
                delay = self.backoff.delay(attempt)
            attempt += 1
            if not self._wait_before_retry(delay):
                return _Outcome.RETRY_LATER

    def _refused(self, transport: Transport, batch: list[Entry], answer: str, from_spool: bool) -> str:
        """Loki answered 400. When it names an entry-level reason it kept the valid entries: count the refused
        ones by reason and the rest as sent. Otherwise it refused the whole push: split the batch in halves and
        send each, down to the entries it refuses alone, so one bad record never costs the others.
        """
        if len(batch) == 1 or refusal.kept_the_rest(answer):
            counts = refusal.refused_count(answer, len(batch))
            refused = sum(counts.values())
            for name, n in counts.items():
                self.stats.refused[name] = self.stats.refused.get(name, 0) + n
            self.stats.dropped["rejected"] += refused
            self.stats.sent += len(batch) - refused
            self._note_drop("rejected", f"Loki refused {refused} of {len(batch)} record(s) "
                                        f"({', '.join(f'{k}={v}' for k, v in counts.items())}): {answer.strip()[:300]}")
            self._resolve(batch, from_spool)
            return _Outcome.DONE
        return self._in_halves(transport, batch, from_spool)

    def _in_halves(self, transport: Transport, batch: list[Entry], from_spool: bool) -> str:
        """Deliver a batch Loki refused whole as two halves, each on its own (and so on down, as needed)."""
        half = len(batch) // 2
        parts = (batch[:half], batch[half:])
        for i, part in enumerate(parts):
            with self._cond:
                self._inflight = [e for rest in parts[i:] for e in rest]
            if self._deliver(transport, part, from_spool) != _Outcome.DONE:
                return _Outcome.RETRY_LATER
        return _Outcome.DONE

    def _wait_before_retry(self, delay: float) -> bool:
        """Sleep before a retry, spilling the queue to the spool if it grows; False when closing."""
        deadline = time.monotonic() + delay
        while True:
            with self._cond:
                if self._closed:
                    return False
                spill: list[Entry] = []
                if self.spool is not None and self._queue_bytes > self.buffer_max_bytes // 2:
                    spill = list(self._queue)
                    self._queue.clear()
                    self._queue_bytes = 0
                    self._oldest_enqueued = 0.0
                remaining = deadline - time.monotonic()
                if not spill:
                    if remaining <= 0:
                        return True
                    self._cond.wait(min(remaining, 0.5))
                    continue
            self._spool_or_drop(spill, "spool_full")

    def _in_stream_order(self, batch: list[Entry]) -> dict[LabelSet, list[Entry]]:
        """The batch by stream, each in time order, never older than the last line sent on it: Loki < 2.4
        rejects those.

        Only lines racing between threads by microseconds are moved forward; a backlog keeps its times
        because delivery is first-in first-out.
        """
        streams = group(batch)
        for labels, values in streams.items():
            floor = self._last_ts.get(labels, 0)
            if values[0].timestamp_ns < floor:  # sorted: only a leading run can be older than the floor
                for i, e in enumerate(values):
                    if e.timestamp_ns >= floor:
                        break
                    values[i] = e._replace(timestamp_ns=floor)
        return streams

    def _mark_sent(self, streams: dict[LabelSet, list[Entry]]) -> None:
        for labels, values in streams.items():
            if values[-1].timestamp_ns > self._last_ts.get(labels, 0):
                self._last_ts[labels] = values[-1].timestamp_ns

    def _resolve(self, batch: list[Entry], from_spool: bool) -> None:
        with self._cond:
            self._inflight = []
            if not from_spool:
                self._resolved += len(batch)
            self._cond.notify_all()

    def _spool_or_drop(self, entries: list[Entry], reason_if_no_spool: str) -> None:
        if self.spool is not None:
            try:
                self.spool.append(entries)
                self.stats.spooled += len(entries)
                with self._cond:
                    self._resolved += len(entries)
                    self._cond.notify_all()
                return
            except (SpoolFull, OSError) as exc:
                reason_if_no_spool = "spool_full"
                self.stats.last_error = str(exc)
        self.stats.dropped[reason_if_no_spool] += len(entries)
        self._note_drop(reason_if_no_spool, self.stats.last_error)
        with self._cond:
            self._resolved += len(entries)
            self._cond.notify_all()

    def _truncate(self, line: str) -> str:
        raw = line.encode("utf-8", "replace")
        if len(raw) <= self.max_line_bytes:
            return line
        self.stats.truncated += 1
        keep = self.max_line_bytes - 40
        cut = raw[:keep].decode("utf-8", "ignore")
        return cut + TRUNCATION_MARKER.format(len(raw) - len(cut.encode("utf-8")))

    def _note_drop(self, reason: str, detail: str = "") -> None:
        """Log a drop at most once per 30 s per reason; the counters carry the exact numbers."""
        now = time.monotonic()
        if now - self._last_drop_log.get(reason, -1e9) < 30:
            return
        self._last_drop_log[reason] = now
        internal_log.warning(
            "tracklog: dropping records to Loki (reason=%s, dropped so far=%d)%s",
            reason, self.stats.dropped.get(reason, 0), f": {detail}" if detail else "",
        )

    def _after_fork(self) -> None:
        """In a forked child (gunicorn pre-fork): start empty, with a fresh lock and no thread."""
        self.stats = ClientStats()
        self._reset_runtime_state()
        if self.spool is not None:
            self.spool.release_after_fork()


def _weak_call(obj: object, method: str) -> Callable[[], None]:
    ref = weakref.ref(obj)

    def call() -> None:
        target = ref()
        if target is not None:
            getattr(target, method)()

    return call


def flush_all(clients: Iterable[LokiClient], timeout: float | None = None) -> bool:
    """Flush several clients within one bound (each client's own ``flush_timeout`` when ``timeout`` is None).

    Every sender is woken first, so they drain in parallel and N clients take no longer than the slowest one.
    """
    clients = list(clients)
    start = time.monotonic()
    for client in clients:
        client.flush(0)
    return all([client.flush(_left(start, client.flush_timeout if timeout is None else timeout))
                for client in clients])


def close_all(clients: Iterable[LokiClient], timeout: float | None = None) -> None:
    """Close several clients within one bound, as :func:`flush_all` flushes them."""
    clients = list(clients)
    start = time.monotonic()
    for client in clients:
        client.flush(0)
    for client in clients:
        client.close(_left(start, client.flush_timeout if timeout is None else timeout))


def _left(start: float, timeout: float) -> float:
    return max(0.0, start + timeout - time.monotonic())


_LIVE_CLIENTS: weakref.WeakSet[LokiClient] = weakref.WeakSet()


@atexit.register
def _close_all_at_exit() -> None:
    close_all(list(_LIVE_CLIENTS))


__all__ = ["ClientStats", "Encoded", "LokiClient", "close_all", "flush_all"]
