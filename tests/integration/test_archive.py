"""tracklog archive / archive verify / restore against the real Loki and S3 store of the stack.

One dataset of 21,300 lines in four streams of one service over the three past UTC days is pushed once; the
clean archive, verify, tampering, restore, kill -9 and resume, the lock and a gap all run against it.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest

from exporters.loki.client import LokiClient
from exporters.loki.labels import label_set
from provisioning import config as config_module
from provisioning.archive import layout
from provisioning.archive.days import DAY_NS
from provisioning.archive.export import PAUSE_ENV, Archiver, ArchiveRequest
from provisioning.archive.lock import LockHeld, S3Lock
from provisioning.archive.store import Store, sha256_hex
from provisioning.archive.verify import load_manifest, object_bytes, run_key
from provisioning.commands import archive as archive_command
from provisioning.commands import restore as restore_command
from provisioning.lokiquery import LokiReader
from provisioning.timerange import TimeRange
from tests.integration.conftest import ROOT, wait_for

CONFIG = str(ROOT / "tracklog.yaml")


@dataclass
class Dataset:
    service: str
    first_day: int  # ns of the first UTC midnight
    end: int  # ns of today's UTC midnight: the dataset ends before it
    streams: dict[str, dict[str, str]]  # stream hash -> labels
    lines: dict[tuple[str, str], list[tuple[int, str]]]  # (stream hash, yyyy-mm-dd) -> sorted (ts, line)
    root: str  # bucket prefix of this test session

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.lines.values())

    def args(self, prefix: str) -> list[str]:
        return ["--log-type", "audit", "--service", self.service, "--after", _day(self.first_day), "--before",
                _day(self.end), "--prefix", f"{self.root}/{prefix}"]


def _day(ns: int) -> str:
    return datetime.fromtimestamp(ns // 10**9, UTC).strftime("%Y-%m-%d")


def command(module: ModuleType, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default=CONFIG)
    module.add_parser(parser)
    args = parser.parse_args(list(argv))
    return int(args.run(args))


@pytest.fixture(scope="module")
def tracklog(stack: Any) -> config_module.Config:
    return config_module.load(CONFIG)


@pytest.fixture(scope="module")
def store(tracklog: config_module.Config) -> Store:
    return Store(tracklog)


@pytest.fixture(scope="module")
def dataset(loki_url: str, tracklog: config_module.Config, store: Store) -> Iterator[Dataset]:
    service = f"it-archive-{time.time_ns() % 10**9}"
    end = time.time_ns() // DAY_NS * DAY_NS
    first = end - 3 * DAY_NS
    base = {"service": service, "log_type": "audit", "env": "test"}
    # info: 6,000 lines a day, three to a timestamp, the first exactly at midnight (page boundaries fall
    # inside runs of equal timestamps); warn: 1,000 a day; info+host: a stream whose labels are a superset
    # of info's, so info's selector also matches it; application: another log type, never archived.
    plan = [({**base, "level": "info"}, 6000, 3), ({**base, "level": "warn"}, 1000, 1),
            ({**base, "level": "info", "host": "h1"}, 100, 1), ({**base, "log_type": "application"}, 50, 1)]
    client = LokiClient(loki_url, batch_max_wait=0.05)
    lines: dict[tuple[str, str], list[tuple[int, str]]] = {}
    streams: dict[str, dict[str, str]] = {}
    for labels, per_day, same in plan:
        digest = layout.stream_hash(labels)
        for d in range(3):
            start = first + d * DAY_NS
            step = DAY_NS // (per_day // same + 1)
            day = [(start + (i // same) * step, json.dumps({"seq": i, "day": d, "level": labels.get("level"),
                                                             "message": f"audit event {i} ünïcode \"q\""}))
                   for i in range(per_day)]
            for ts, line in day:
                client.push(label_set(labels), ts, line)
            if labels["log_type"] == "audit":
                streams[digest] = labels
                lines[(digest, _day(start))] = sorted(day)
    assert client.flush(60), client.stats.last_error
    client.close()
    assert not any(client.stats.dropped.values()), client.stats.dropped
    data = Dataset(service, first, end, streams, lines, f"it-archive/{service}")
    reader = LokiReader(tracklog)
    # Per stream, summed here: Loki 2.2's sum() merges equal (timestamp, line) samples of different streams.
    query = f'count_over_time({{service="{service}", log_type="audit"}}[{4 * 86400}s])'

    def visible() -> bool:
        return sum(int(r["value"][1]) for r in reader.instant(query, end)) == data.total

    wait_for(visible, timeout=120, what=f"{data.total} audit lines of {service} in Loki")
    yield data
    for key in list(store.keys(data.root + "/")):
        store.delete(key)


@pytest.fixture(scope="module")
def clean(dataset: Dataset) -> dict[str, Any]:
    """The report of the clean archive of the whole dataset, run once through the command."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = command(archive_command, *dataset.args("clean"), "--output", "json")
    report = json.loads(out.getvalue())
    assert rc == 0, report
    return report


def _archive_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    rc = command(archive_command, *argv, "--output", "json")
    out = capsys.readouterr().out
    return rc, json.loads(out)


def _backup(store: Store, key: str) -> tuple[bytes, dict[str, str]]:
    found, info = store.get(key), store.head(key)
    assert found is not None
    assert info is not None
    return found[0], info.metadata


def _put_back(store: Store, key: str, saved: tuple[bytes, dict[str, str]]) -> None:
    store.put(key, saved[0], saved[1])


def _keys(store: Store, prefix: str) -> set[str]:
    return {k[len(prefix) + 1:] for k in store.keys(prefix + "/audit/")}


# -- archive ------------------------------------------------------------------------------------------------


def test_archive_writes_one_object_per_stream_and_day_with_a_manifest(
        dataset: Dataset, store: Store, clean: dict[str, Any]) -> None:
    report = clean
    assert report["status"] == "complete"
    assert report["objects_written"] == 9  # 3 audit streams x 3 days
    assert report["lines_written"] == dataset.total == 21_300
    print(f"\nTHROUGHPUT archive: {report['lines_written']} lines, {report['bytes_written']} bytes in "
          f"{report['seconds']:.2f} s = {report['lines_per_second']:.0f} lines/s into S3", file=sys.__stdout__)

    prefix = f"{dataset.root}/clean"
    manifest = load_manifest(store, prefix, report["run_id"])
    assert manifest.status == "complete"
    assert manifest.selector == f'{{log_type="audit", restored="", service="{dataset.service}"}}'
    assert (manifest.start_ns, manifest.end_ns) == (dataset.first_day, dataset.end)
    assert _keys(store, prefix) == set(manifest.objects)
    for (digest, day), expected in dataset.lines.items():
        key = f"audit/{day.replace('-', '/')}/{digest}.ndjson.gz"
        record = manifest.objects[key]
        assert record.labels == dataset.streams[digest]
        assert record.lines == len(expected)
        assert record.complete_day
        data, _ = store.get(f"{prefix}/{key}") or (b"", "")
        assert sha256_hex(data) == record.sha256
        assert len(data) == record.size
        rows = [json.loads(raw) for raw in gzip.decompress(data).splitlines()]
        assert [(int(r["ts"]), r["line"]) for r in rows] == expected  # every line once, midnight included
        assert all(r["labels"] == record.labels for r in rows)
        assert (record.first_ts, record.last_ts) == (expected[0][0], expected[-1][0])


def test_a_rerun_skips_everything_and_writes_nothing(
        dataset: Dataset, store: Store, clean: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    prefix = f"{dataset.root}/clean"
    before = {k: store.head(f"{prefix}/{k}") for k in _keys(store, prefix)}
    rc, report = _archive_json(capsys, *dataset.args("clean"))
    assert rc == 0, report
    assert (report["objects_written"], report["objects_skipped"]) == (0, 9)
    assert report["lines_skipped"] == dataset.total
    after = {k: store.head(f"{prefix}/{k}") for k in _keys(store, prefix)}
    assert {k: v.etag for k, v in after.items() if v} == {k: v.etag for k, v in before.items() if v}
    assert load_manifest(store, prefix, report["run_id"]).lines == dataset.total


# -- verify ----------------------------------------------------------------------------------------------------


def test_verify_is_clean_then_names_a_tampered_a_missing_object_and_a_wrong_line_count(
        dataset: Dataset, store: Store, clean: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    prefix = f"{dataset.root}/clean"
    assert command(archive_command, "verify", "--prefix", prefix) == 0
    assert "ok" in capsys.readouterr().out
    run_id = clean["run_id"]
    manifest = load_manifest(store, prefix, run_id)
    victim, other = sorted(manifest.objects)[:2]
    original = _backup(store, f"{prefix}/{victim}")
    gone = _backup(store, f"{prefix}/{other}")
    manifest_bytes = (store.get(layout.manifest_key(prefix, run_id)) or (b"", ""))[0]
    try:
        lines = gzip.decompress(original[0]).splitlines(keepends=True)
        store.put(f"{prefix}/{victim}", gzip.compress(b"".join(lines[:-1]), mtime=0))  # overwrite: one line less
        store.delete(f"{prefix}/{other}")
        doctored = json.loads(manifest_bytes)
        third = sorted(manifest.objects)[2]
        next(o for o in doctored["objects"] if o["key"] == third)["lines"] += 1
        store.put(layout.manifest_key(prefix, run_id), json.dumps(doctored).encode())
        assert command(archive_command, "verify", "--run", run_id, "--prefix", prefix) == 1
        out = capsys.readouterr().out
        assert f"{prefix}/{victim}: sha256" in out
        assert f"{prefix}/{other}: missing" in out
        assert f"{prefix}/{third}: {manifest.objects[third].lines} lines, the manifest says " \
               f"{manifest.objects[third].lines + 1}" in out
        assert out.count("PROBLEM") == 3
    finally:
        _put_back(store, f"{prefix}/{victim}", original)
        _put_back(store, f"{prefix}/{other}", gone)
        store.put(layout.manifest_key(prefix, run_id), manifest_bytes)
    assert command(archive_command, "verify", "--prefix", prefix) == 0


def test_an_archived_day_is_never_overwritten_when_it_differs(
        dataset: Dataset, store: Store, clean: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    prefix = f"{dataset.root}/clean"
    victim = sorted(_keys(store, prefix))[0]
    original = _backup(store, f"{prefix}/{victim}")
    try:
        store.put(f"{prefix}/{victim}", b"someone else's bytes")
        rc, report = _archive_json(capsys, *dataset.args("clean"))
        assert rc == 1
        assert report["status"] == "incomplete"
        assert any(victim in p and "not overwritten" in p for p in report["problems"])
        assert (store.get(f"{prefix}/{victim}") or (b"", ""))[0] == b"someone else's bytes"
    finally:
        _put_back(store, f"{prefix}/{victim}", original)
    rc, report = _archive_json(capsys, *dataset.args("clean"))  # resumes the incomplete run and finishes it
    assert rc == 0, report
    assert report["resumed"]


# -- restore -----------------------------------------------------------------------------------------------


def test_restore_pushes_the_archived_lines_back_line_for_line_under_restored_true(
        dataset: Dataset, store: Store, tracklog: config_module.Config, clean: dict[str, Any],
        capsys: pytest.CaptureFixture[str]) -> None:
    prefix = f"{dataset.root}/clean"
    run_id = clean["run_id"]
    assert command(restore_command, "--run", run_id, "--prefix", prefix, "--output", "json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["lines_pushed"] == dataset.total
    assert report["dropped"] == 0
    print(f"\nTHROUGHPUT restore: {report['lines_pushed']} lines in {report['seconds']:.2f} s = "
          f"{report['lines_per_second']:.0f} lines/s into Loki", file=sys.__stdout__)
    reader = LokiReader(tracklog)

    names = {name for labels in dataset.streams.values() for name in labels}

    def restored() -> dict[tuple[str, str], list[tuple[int, str]]]:
        # One exact selector per stream: LokiReader.entries cannot sort two streams' equal (ts, line) rows.
        found: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for digest, labels in dataset.streams.items():
            wanted = {**labels, "restored": "true"}
            for entry in reader.entries(layout.selector(wanted, names), dataset.first_day, dataset.end):
                assert entry.labels == wanted
                found.setdefault((digest, _day(entry.timestamp_ns)), []).append((entry.timestamp_ns, entry.line))
        return {k: sorted(v) for k, v in found.items()}

    wait_for(lambda: sum(map(len, restored().values())) == dataset.total, timeout=60, what="restored lines")
    assert restored() == dataset.lines  # same streams, days, timestamps and lines, no more, no fewer
    live = reader.instant(f'count_over_time({{service="{dataset.service}", log_type="audit", '
                          f'restored!="true"}}[{4 * 86400}s])', dataset.end)
    assert sum(int(r["value"][1]) for r in live) == dataset.total  # the live streams are untouched

    assert command(restore_command, "--run", run_id, "--prefix", prefix, "--output", "json",
                   "--stream-selector", '{level="warn"}') == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["lines_pushed"], again["lines_present"]) == (0, 3000)  # a rerun pushes nothing twice


# -- crash and resume ------------------------------------------------------------------------------------


def test_a_run_killed_after_its_first_object_resumes_without_loss_or_duplicates(
        dataset: Dataset, store: Store, clean: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    prefix = f"{dataset.root}/killed"
    code = ("import argparse, sys; from provisioning.commands import archive; p = argparse.ArgumentParser(); "
            "p.add_argument('--config'); archive.add_parser(p); a = p.parse_args(sys.argv[1:]); sys.exit(a.run(a))")
    child = subprocess.Popen([sys.executable, "-c", code, "--config", CONFIG, *dataset.args("killed")], cwd=ROOT,
                             env={**os.environ, PAUSE_ENV: "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        assert child.stderr is not None
        seen = ""
        while "paused after 1 objects" not in seen:
            line = child.stderr.readline()
            assert line, f"the archive exited before its first object: {seen}"
            seen += line
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(10)
    assert len(_keys(store, prefix)) == 1  # killed with one object uploaded, not yet in the manifest
    assert store.head(layout.lock_key(prefix, "audit")) is not None  # and its lock left behind

    rc, report = _archive_json(capsys, *dataset.args("killed"))
    assert rc == 0, report
    assert report["resumed"]
    assert (report["objects_written"], report["objects_skipped"]) == (8, 1)
    assert report["lines_written"] + report["lines_skipped"] == dataset.total
    assert store.head(layout.lock_key(prefix, "audit")) is None  # released

    clean_objects = load_manifest(store, f"{dataset.root}/clean", clean["run_id"]).objects
    expected = {k: v.sha256 for k, v in clean_objects.items()}
    resumed = load_manifest(store, prefix, report["run_id"])
    assert {k: v.sha256 for k, v in resumed.objects.items()} == expected  # same objects, byte for byte
    assert _keys(store, prefix) == set(expected)
    assert resumed.lines == dataset.total
    assert len(list(store.keys(prefix + "/manifests/"))) == 1  # one run, resumed; not a second one
    assert command(archive_command, "verify", "--prefix", prefix) == 0


# -- lock and gaps ------------------------------------------------------------------------------------------


def test_a_second_run_is_refused_while_the_lock_is_held(
        dataset: Dataset, store: Store, tracklog: config_module.Config) -> None:
    prefix = f"{dataset.root}/locked"
    store.ensure_bucket()
    holder = S3Lock(store, layout.lock_key(prefix, "audit"), lease_seconds=60, purpose="another run")
    with holder:
        request = ArchiveRequest("audit", TimeRange(dataset.end - DAY_NS, dataset.end), "test",
                                 (dataset.service,), prefix)
        with pytest.raises(LockHeld, match=r"another archive run holds .* pid \d+ on .*another run"):
            Archiver(tracklog, request).run()
        assert not _keys(store, prefix)
    assert Archiver(tracklog, request).run().ok  # free again once released


def test_a_gap_between_loki_and_its_count_fails_the_run_and_a_rerun_fills_it(
        dataset: Dataset, store: Store, tracklog: config_module.Config, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = f"{dataset.root}/gap"
    request = ArchiveRequest("audit", TimeRange(dataset.end - DAY_NS, dataset.end), "gap test",
                             (dataset.service,), prefix)
    real_entries = LokiReader.entries

    def lossy(self: LokiReader, query: str, start: int, end: int, page: int = 5000) -> Iterator[Any]:
        for n, entry in enumerate(real_entries(self, query, start, end, page)):
            if not ('level="warn"' in query and n == 500):  # Loki "loses" one warn line
                yield entry

    monkeypatch.setattr(LokiReader, "entries", lossy)
    report = Archiver(tracklog, request).run()
    assert report.status == "incomplete"
    assert not report.ok
    assert len(report.gaps) == 1
    assert '"level": "warn"' in report.gaps[0]
    assert "returned 999 of 1000 lines" in report.gaps[0]
    assert report.objects_written == 2  # info and info+host; the warn day is not written short
    monkeypatch.setattr(LokiReader, "entries", real_entries)
    again = Archiver(tracklog, request).run()
    assert again.ok
    assert again.resumed
    assert (again.objects_written, again.objects_skipped) == (1, 2)


# -- encryption ------------------------------------------------------------------------------------------


def test_an_encrypted_archive_verifies_and_decrypts_only_with_its_key(
        dataset: Dataset, store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("cryptography", reason="client-side encryption needs the cryptography package")
    secret = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("IT_ARCHIVE_KEY", secret)
    prefix = f"{dataset.root}/encrypted"
    rc, report = _archive_json(capsys, *dataset.args("encrypted"), "--encryption-key-env", "IT_ARCHIVE_KEY")
    assert rc == 0, report
    manifest = load_manifest(store, prefix, report["run_id"])
    assert manifest.encryption is not None
    assert manifest.encryption["key_env"] == "IT_ARCHIVE_KEY"
    assert manifest.encryption["algorithm"] == "AES-256-GCM"
    assert secret not in manifest.to_json().decode()
    assert all(k.endswith(".ndjson.gz.enc") for k in manifest.objects)
    key = run_key(manifest, None)
    for (digest, day), expected in dataset.lines.items():
        record = manifest.objects[f"audit/{day.replace('-', '/')}/{digest}.ndjson.gz.enc"]
        raw = (store.get(f"{prefix}/{record.key}") or (b"", ""))[0]
        assert not raw.startswith(b"\x1f\x8b")  # not readable gzip at rest
        plain = object_bytes(store, manifest, record, key)
        assert [(int(json.loads(r)["ts"]), json.loads(r)["line"]) for r in gzip.decompress(plain).splitlines()] \
            == expected
    assert command(archive_command, "verify", "--prefix", prefix) == 0
    monkeypatch.setenv("IT_ARCHIVE_KEY", base64.b64encode(os.urandom(32)).decode())
    assert command(archive_command, "verify", "--prefix", prefix) == 1
    out = capsys.readouterr().out
    assert "was encrypted with key" in out
    assert secret not in out
