"""Export one log type from Loki to the bucket, per stream and UTC day, resuming the job's unfinished run."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from provisioning.archive import crypto
from provisioning.archive.codec import ObjectBuilder
from provisioning.archive.counts import stream_counts
from provisioning.archive.days import DaySlice, split_days
from provisioning.archive.layout import (
    base_selector,
    canonical_labels,
    clean_prefix,
    lock_key,
    manifest_key,
    object_key,
    open_run_key,
    relative_object_key,
    selector,
    stream_hash,
)
from provisioning.archive.lock import S3Lock
from provisioning.archive.manifest import (
    COMPLETE,
    INCOMPLETE,
    RUNNING,
    Gap,
    Manifest,
    ObjectRecord,
    new_run_id,
    query_id,
)
from provisioning.archive.store import ObjectInfo, Store, sha256_hex
from provisioning.config import Config
from provisioning.errors import TracklogError
from provisioning.lokiquery import LokiReader, reader_for
from provisioning.timerange import TimeRange, iso

log = logging.getLogger("tracklog.archive")
# Test hook: stop (sleep) right after the Nth object is uploaded, before the manifest records it.
PAUSE_ENV = "TRACKLOG_ARCHIVE_TEST_PAUSE_AFTER"
SAVE_EVERY_SECONDS = 2.0


@dataclass(frozen=True)
class ArchiveRequest:
    log_type: str
    span: TimeRange
    range_args: str  # the range as the user gave it; names the job for resuming
    services: tuple[str, ...] = ()
    prefix: str = "archive"
    encryption_key_env: str | None = None
    lease_seconds: float = 300.0


@dataclass
class ArchiveReport:
    run_id: str
    status: str = RUNNING
    resumed: bool = False
    attempt: int = 1
    start_ns: int = 0
    end_ns: int = 0
    objects_written: int = 0
    objects_skipped: int = 0
    lines_written: int = 0
    lines_skipped: int = 0
    bytes_written: int = 0
    seconds: float = 0.0
    manifest: str = ""
    gaps: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def lines_per_second(self) -> float:
        return self.lines_written / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        return self.status == COMPLETE

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lines_per_second": round(self.lines_per_second, 1)}

    def summary(self) -> list[str]:
        how = f" (resumed, attempt {self.attempt})" if self.resumed else ""
        lines = [
            f"archive run {self.run_id}: {self.status}{how}, {iso(self.start_ns)} .. {iso(self.end_ns)}",
            f"  objects: {self.objects_written} written, {self.objects_skipped} skipped (already archived)",
            f"  lines:   {self.lines_written} written, {self.lines_skipped} skipped; "
            f"{self.bytes_written} bytes written",
            f"  time:    {self.seconds:.2f} s, {self.lines_per_second:.0f} lines/s",
            f"  manifest: {self.manifest}",
        ]
        lines += [f"  GAP: {gap}" for gap in self.gaps]
        lines += [f"  PROBLEM: {problem}" for problem in self.problems]
        return lines


class Archiver:
    """One archive run: lock, open or resume the run, export every stream-day, close the manifest.

    Args:
        reader / store: injected for tests; default to the ones tracklog.yaml describes.
    """

    def __init__(self, config: Config, request: ArchiveRequest, reader: LokiReader | None = None,
                 store: Store | None = None) -> None:
        self.config = config
        self.request = request
        self.prefix = clean_prefix(request.prefix)
        self.reader = reader or reader_for(config, [request.log_type])  # the log type's Loki tenant
        self.store = store or Store(config)
        self.selector = base_selector(request.log_type, request.services)
        self.key: bytes | None = None
        self.label_names: set[str] = set()
        self._saved_at = 0.0

    def run(self) -> ArchiveReport:
        """Raises LockHeld when another run is going, TracklogError subclasses when Loki or S3 fail."""
        started = time.monotonic()
        if self.request.encryption_key_env:
            self.key = crypto.load_key(self.request.encryption_key_env)
        self.store.ensure_bucket()
        qid = query_id(self.request.log_type, self.selector, self.request.range_args,
                       self.request.encryption_key_env)
        lock = S3Lock(self.store, lock_key(self.prefix, self.request.log_type), self.request.lease_seconds,
                      purpose=f"archive {self.selector} {self.request.range_args}")
        with lock:
            manifest, resumed = self._open_run(qid)
            report = ArchiveReport(manifest.run_id, resumed=resumed, attempt=manifest.attempts,
                                   start_ns=manifest.start_ns, end_ns=manifest.end_ns,
                                   manifest=f"s3://{self.store.bucket}/{manifest_key(self.prefix, manifest.run_id)}")
            try:
                self._export(manifest, lock, report)
            except BaseException:
                if not lock.lost:
                    try:
                        self._save(manifest, force=True)  # keep the progress; the status stays "running"
                    except TracklogError as exc:
                        log.error("could not save the progress of run %s: %s", manifest.run_id, exc)
                raise
            manifest.status = COMPLETE if not manifest.gaps and not manifest.problems else INCOMPLETE
            manifest.finished_at = iso(time.time_ns())
            lock.check()
            self._save(manifest, force=True)
            if manifest.status == COMPLETE:
                self.store.delete(open_run_key(self.prefix, qid))
        report.status = manifest.status
        report.gaps = [g.describe() for g in manifest.gaps]
        report.problems = list(manifest.problems)
        report.seconds = time.monotonic() - started
        return report

    # -- the run -----------------------------------------------------------------------------------------

    def _open_run(self, qid: str) -> tuple[Manifest, bool]:
        """The job's unfinished run (same arguments) if there is one, else a new run."""
        pointer = self.store.get(open_run_key(self.prefix, qid))
        if pointer is not None:
            run_id = json.loads(pointer[0])["run_id"]
            found = self.store.get(manifest_key(self.prefix, run_id))
            if found is not None:
                manifest = Manifest.from_json(found[0])
                if manifest.status != COMPLETE:
                    self._check_same_key(manifest)
                    manifest.attempts += 1
                    manifest.status, manifest.gaps, manifest.problems = RUNNING, [], []
                    log.info("resuming archive run %s (attempt %d, %s .. %s, %d objects already archived)",
                             run_id, manifest.attempts, iso(manifest.start_ns), iso(manifest.end_ns),
                             len(manifest.objects))
                    self._save(manifest, force=True)
                    return manifest, True
        now = time.time_ns()
        manifest = Manifest(
            run_id=new_run_id(now), query_id=qid, log_type=self.request.log_type, selector=self.selector,
            services=sorted(self.request.services), start_ns=self.request.span.start_ns,
            end_ns=self.request.span.end_ns, range_args=self.request.range_args, prefix=self.prefix,
            bucket=self.store.bucket, encryption=self._encryption_doc(), started_at=iso(now),
        )
        self._save(manifest, force=True)
        self.store.put(open_run_key(self.prefix, qid), json.dumps({"run_id": manifest.run_id}).encode())
        log.info("archive run %s: %s, %s .. %s", manifest.run_id, self.selector, iso(manifest.start_ns),
                 iso(manifest.end_ns))
        return manifest, False

    def _encryption_doc(self) -> dict[str, str] | None:
        if self.key is None or not self.request.encryption_key_env:
            return None
        return {"algorithm": crypto.ALGORITHM, "key_env": self.request.encryption_key_env,
                "key_id": crypto.key_id(self.key)}

    def _check_same_key(self, manifest: Manifest) -> None:
        wanted = (manifest.encryption or {}).get("key_id")
        if wanted and self.key is not None and wanted != crypto.key_id(self.key):
            raise crypto.EncryptionError(
                f"run {manifest.run_id} was encrypted with key {wanted}, but "
                f"${self.request.encryption_key_env} holds key {crypto.key_id(self.key)}")

    def _export(self, manifest: Manifest, lock: S3Lock, report: ArchiveReport) -> None:
        span = TimeRange(manifest.start_ns, manifest.end_ns)
        streams = {canonical_labels(s): dict(s) for s in self.reader.series(self.selector, span.start_ns,
                                                                              span.end_ns)}
        for piece in split_days(span):
            counts = stream_counts(self.reader, self.selector, piece.start_ns, piece.end_ns)
            for canon in counts.keys() - streams.keys():
                streams[canon] = dict(json.loads(canon))  # seen by the count but not by series(): archive it too
            self.label_names = {name for labels in streams.values() for name in labels} | {"restored"}
            day_streams = sorted((stream_hash(labels), canon, labels) for canon, labels in streams.items()
                                 if counts.get(canon))
            log.info("%s: %d streams, %d lines", piece.day, len(day_streams), sum(counts.values()))
            for _, canon, labels in day_streams:
                self._one(manifest, lock, report, piece, labels, counts[canon])
            self._save(manifest, force=True)

    def _one(self, manifest: Manifest, lock: S3Lock, report: ArchiveReport, piece: DaySlice,
             labels: dict[str, str], expected: int) -> None:
        relative = relative_object_key(self.request.log_type, piece, labels, self.key is not None)
        full = object_key(self.prefix, relative)
        recorded = manifest.objects.get(relative)
        info = self.store.head(full)
        if recorded is not None and info is not None and info.sha256 == recorded.sha256:
            report.objects_skipped += 1
            report.lines_skipped += recorded.lines
            return
        if info is not None:
            self._adopt(manifest, report, piece, labels, expected, relative, info)
            return
        if recorded is not None:
            log.warning("%s is in the manifest but missing from the bucket: archiving it again", full)
        builder = self._read(labels, piece)
        for _ in range(2):
            if builder.lines == expected:
                break
            # Lines may still be arriving (a range that ends now): count and read once more before calling it a gap.
            expected = stream_counts(self.reader, self._selector(labels), piece.start_ns, piece.end_ns).get(
                canonical_labels(labels), 0)
            if builder.lines != expected:
                builder = self._read(labels, piece)
        if builder.lines != expected:
            manifest.gaps.append(Gap(labels, piece.day.isoformat(), piece.start_ns, piece.end_ns, expected,
                                     builder.lines))
            log.error("gap: %s", manifest.gaps[-1].describe())
            return
        data = builder.finish()
        if self.key is not None:
            data = crypto.encrypt(data, self.key, relative)
        record = ObjectRecord(
            key=relative, labels=labels, stream=stream_hash(labels), day=piece.day.isoformat(),
            start_ns=piece.start_ns, end_ns=piece.end_ns, complete_day=piece.complete, lines=builder.lines,
            first_ts=builder.first_ts, last_ts=builder.last_ts, sha256=sha256_hex(data), size=len(data),
            written_by=manifest.run_id,
        )
        lock.check()
        self.store.put(full, data, self._metadata(record))
        manifest.objects[relative] = record
        report.objects_written += 1
        report.lines_written += record.lines
        report.bytes_written += record.size
        log.debug("wrote %s (%d lines, %d bytes)", full, record.lines, record.size)
        self._pause_hook(report)
        self._save(manifest)

    def _read(self, labels: dict[str, str], piece: DaySlice) -> ObjectBuilder:
        builder = ObjectBuilder(labels)
        for entry in self.reader.entries(self._selector(labels), piece.start_ns, piece.end_ns):
            if entry.labels == labels:  # only streams the run has not seen yet could differ
                builder.add(entry.timestamp_ns, entry.line)
        return builder

    def _selector(self, labels: dict[str, str]) -> str:
        """Selects this stream and none of the run's others (even those with more labels)."""
        return selector(labels, self.label_names)

    def _metadata(self, record: ObjectRecord) -> dict[str, str]:
        meta = {"sha256": record.sha256, "lines": str(record.lines), "first-ts": str(record.first_ts),
                "last-ts": str(record.last_ts), "run-id": record.written_by, "stream": record.stream}
        if self.key is not None:
            meta["key-id"] = crypto.key_id(self.key)
        return meta

    def _adopt(self, manifest: Manifest, report: ArchiveReport, piece: DaySlice, labels: dict[str, str],
               expected: int, relative: str, info: ObjectInfo) -> None:
        """An object is already at this stream-day's key (an earlier run, or a crash before the manifest
        recorded it). Keep it when it is intact and holds what Loki holds; never overwrite it."""
        meta = info.metadata
        full = object_key(self.prefix, relative)
        why = ""
        if not info.sha256 or meta.get("sha256") != info.sha256:
            why = "its bytes do not match the sha256 it was written with"
        elif meta.get("lines") != str(expected):
            why = f"it holds {meta.get('lines')} lines where Loki now has {expected}"
        elif self.key is not None and meta.get("key-id") != crypto.key_id(self.key):
            why = f"it was encrypted with key {meta.get('key-id')}, not this run's"
        if why:
            manifest.problems.append(f"{full}: already exists but {why}; not overwritten (archived objects are "
                                     "immutable): check it, and delete it to archive this stream-day again")
            log.error("%s", manifest.problems[-1])
            return
        record = ObjectRecord(
            key=relative, labels=labels, stream=stream_hash(labels), day=piece.day.isoformat(),
            start_ns=piece.start_ns, end_ns=piece.end_ns, complete_day=piece.complete, lines=expected,
            first_ts=int(meta.get("first-ts", 0)), last_ts=int(meta.get("last-ts", 0)), sha256=info.sha256,
            size=info.size, written_by=meta.get("run-id", ""),
        )
        manifest.objects[relative] = record
        report.objects_skipped += 1
        report.lines_skipped += record.lines

    def _save(self, manifest: Manifest, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._saved_at < SAVE_EVERY_SECONDS:
            return
        manifest.updated_at = iso(time.time_ns())
        self.store.put(manifest_key(self.prefix, manifest.run_id), manifest.to_json())
        self._saved_at = now

    @staticmethod
    def _pause_hook(report: ArchiveReport) -> None:
        after = os.environ.get(PAUSE_ENV)
        if after and report.objects_written == int(after):
            print(f"archive: paused after {after} objects ({PAUSE_ENV})", file=sys.stderr, flush=True)
            time.sleep(3600)


def archive(config: Config, request: ArchiveRequest) -> ArchiveReport:
    """Run one archive job; see :class:`Archiver`."""
    return Archiver(config, request).run()

