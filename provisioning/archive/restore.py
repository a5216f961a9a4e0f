"""Push an archive run's lines back into Loki under restored="true", with their original timestamps.

Restored streams are the archived label sets plus restored="true", so they never mix with live streams.
Lines already in a restored stream are not pushed again (a restore can be rerun after a failure). A run goes
back into the Loki tenant of its log type (``endpoints.loki.tenants``).
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from exporters.loki.client import LokiClient
from exporters.loki.labels import label_set
from provisioning.archive import codec, crypto
from provisioning.archive.layout import selector as exact_selector
from provisioning.archive.manifest import Manifest, ObjectRecord
from provisioning.archive.store import Store
from provisioning.archive.verify import load_manifest, object_bytes, run_key
from provisioning.config import Config
from provisioning.lokiquery import Reader, reader_for
from provisioning.selector import parse

log = logging.getLogger("tracklog.archive")
RESTORED = ("restored", "true")


@dataclass
class RestoreReport:
    run_id: str
    streams: int = 0
    objects: int = 0
    lines_pushed: int = 0
    lines_present: int = 0
    dropped: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def lines_per_second(self) -> float:
        return self.lines_pushed / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and not self.dropped

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lines_per_second": round(self.lines_per_second, 1)}

    def summary(self) -> list[str]:
        return [
            f"restore of run {self.run_id}: {'ok' if self.ok else 'FAILED'}",
            f"  {self.streams} stream(s), {self.objects} object(s); {self.lines_pushed} lines pushed with "
            f'{RESTORED[0]}="{RESTORED[1]}", {self.lines_present} already restored, {self.dropped} dropped',
            f"  time: {self.seconds:.2f} s, {self.lines_per_second:.0f} lines/s",
            *(f"  PROBLEM: {p}" for p in self.problems),
        ]


def make_client(config: Config, log_type: str | None = None) -> LokiClient:
    """A client for the tenant of ``log_type`` (the default tenant when None)."""
    loki = config.endpoints.loki
    auth, token = loki.credentials()
    return LokiClient(loki.url, tenant=loki.tenant_for(log_type) or None, auth=auth, bearer_token=token,
                      verify=loki.verify_tls, batch_max_wait=0.2, flush_timeout=120.0)


class Restorer:
    """Restore one run, optionally only the streams a selector matches."""

    def __init__(self, config: Config, run_id: str, prefix: str = "archive", stream_selector: str | None = None,
                 key_env: str | None = None, store: Store | None = None, reader: Reader | None = None,
                 client: LokiClient | None = None) -> None:
        self.config = config
        self.run_id = run_id
        self.prefix = prefix
        self.selector = parse(stream_selector) if stream_selector else None
        self.key_env = key_env
        self.store = store or Store(config)
        self.reader = reader  # default: the tenant of the run's log type, known once its manifest is read
        self.client = client
        self.label_names: set[str] = set()

    def run(self) -> RestoreReport:
        """Raises LookupError/ValueError for a missing or unreadable manifest, EncryptionError for a bad key."""
        manifest = load_manifest(self.store, self.prefix, self.run_id)
        key = run_key(manifest, self.key_env)
        if self.reader is None:
            self.reader = reader_for(self.config, [manifest.log_type])
        streams: dict[str, list[ObjectRecord]] = collections.defaultdict(list)
        for record in manifest.objects.values():
            if self.selector is None or self.selector.matches(record.labels):
                streams[record.stream].append(record)
        report = RestoreReport(manifest.run_id, streams=len(streams))
        self.label_names = {name for r in manifest.objects.values() for name in r.labels} | {RESTORED[0]}
        client = self.client or make_client(self.config, manifest.log_type)
        started = time.monotonic()
        try:
            for stream in sorted(streams):
                self._stream(manifest, sorted(streams[stream], key=lambda r: r.start_ns), key, client, report)
            if not client.flush(client.flush_timeout):
                report.problems.append(f"Loki did not take every line within {client.flush_timeout:.0f}s "
                                       f"(last error: {client.stats.last_error or 'none'})")
        finally:
            if self.client is None:
                client.close()
        report.seconds = time.monotonic() - started
        report.dropped = sum(client.stats.dropped.values())
        if report.dropped:
            reasons = ", ".join(f"{n} {r}" for r, n in client.stats.dropped.items() if n)
            report.problems.append(
                f"Loki refused {report.dropped} line(s) ({reasons}; last error: {client.stats.last_error}). "
                "Loki 2.2 refuses lines older than the newest line of their stream: restore a stream's days "
                "oldest first, in one run")
        return report

    def _stream(self, manifest: Manifest, records: list[ObjectRecord], key: bytes | None, client: LokiClient,
                report: RestoreReport) -> None:
        labels = {**records[0].labels, RESTORED[0]: RESTORED[1]}
        labels_pushed = label_set(labels)
        present = collections.Counter(
            (e.timestamp_ns, e.line)
            for e in self.reader.entries(exact_selector(labels, self.label_names), records[0].start_ns,
                                         records[-1].end_ns)
            if e.labels == labels
        )
        for record in records:
            try:
                data = object_bytes(self.store, manifest, record, key)
                lines = list(codec.decode(data))
            except (LookupError, ValueError, crypto.EncryptionError) as exc:
                report.problems.append(f"not restored: {exc}")
                continue
            report.objects += 1
            for item in lines:
                if present[(item.ts, item.line)]:
                    present[(item.ts, item.line)] -= 1
                    report.lines_present += 1
                    continue
                if client.queue_bytes > client.buffer_max_bytes // 4:
                    client.flush(client.flush_timeout)  # back-pressure: never overrun the client's buffer
                client.push(labels_pushed, item.ts, item.line)
                report.lines_pushed += 1
        log.info("restored %s: %d objects", exact_selector(labels), len(records))


def restore(config: Config, run_id: str, prefix: str = "archive", stream_selector: str | None = None,
            key_env: str | None = None) -> RestoreReport:
    return Restorer(config, run_id, prefix, stream_selector, key_env).run()
