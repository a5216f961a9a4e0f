"""The pure parts of provisioning.archive: ranges and days, key layout, objects, manifests, selectors, lock, crypto."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import date

import pytest

from provisioning.archive import codec, counts, crypto, layout
from provisioning.archive.days import DAY_NS, DaySlice, parse_time, resolve_range, split_days
from provisioning.archive.export import ArchiveReport
from provisioning.archive.lock import Holder, stale_reason
from provisioning.archive.manifest import Gap, Manifest, ObjectRecord, new_run_id, query_id
from provisioning.selector import parse
from provisioning.timerange import NS, TimeRange, iso

T0 = 1_714_521_600 * NS  # 2024-05-01T00:00:00Z
LABELS = {"service": "auth", "log_type": "audit", "level": "info"}


# -- time ranges and days ----------------------------------------------------------------------------------


def test_a_range_is_cut_at_every_utc_midnight() -> None:
    pieces = split_days(TimeRange(T0 - 6 * 3600 * NS, T0 + DAY_NS + 3600 * NS))
    assert [p.day for p in pieces] == [date(2024, 4, 30), date(2024, 5, 1), date(2024, 5, 2)]
    assert [(p.start_ns, p.end_ns) for p in pieces] == [
        (T0 - 6 * 3600 * NS, T0), (T0, T0 + DAY_NS), (T0 + DAY_NS, T0 + DAY_NS + 3600 * NS)]
    assert [p.complete for p in pieces] == [False, True, False]


def test_whole_days_are_complete_and_a_range_inside_one_day_is_one_partial_slice() -> None:
    assert all(p.complete for p in split_days(TimeRange(T0, T0 + 3 * DAY_NS)))
    assert len(split_days(TimeRange(T0, T0 + 3 * DAY_NS))) == 3
    (only,) = split_days(TimeRange(T0 + NS, T0 + 2 * NS))
    assert only == DaySlice(date(2024, 5, 1), T0 + NS, T0 + 2 * NS)
    assert not only.complete
    assert split_days(TimeRange(T0, T0)) == []


def test_times_are_read_in_every_documented_form_and_floored_to_the_second() -> None:
    now = T0 + 10 * DAY_NS + 123_456_789
    assert parse_time("2024-05-01", now) == T0
    assert parse_time("2024-05-01T00:00:05Z", now) == T0 + 5 * NS
    assert parse_time("2024-05-01T02:00:05+02:00", now) == T0 + 5 * NS
    assert parse_time("2024-05-01T00:00:05", now) == T0 + 5 * NS  # naive means UTC
    assert parse_time(str(T0 // NS), now) == T0
    assert parse_time(str(T0 // 1_000_000 + 1), now) == T0
    assert parse_time(str(T0 + 7), now) == T0
    assert parse_time("now", now) == T0 + 10 * DAY_NS
    assert parse_time("2d", now) == T0 + 8 * DAY_NS
    with pytest.raises(ValueError, match="not a time"):
        parse_time("yesterday-ish", now)


def test_the_range_defaults_to_the_retention_and_refuses_contradictions() -> None:
    now = T0 + 10 * DAY_NS
    assert resolve_range(None, None, None, 7 * 86400, now) == TimeRange(T0 + 3 * DAY_NS, now)
    assert resolve_range(None, "2024-05-05", "2d", 0, now) == TimeRange(T0 + 2 * DAY_NS, T0 + 4 * DAY_NS)
    assert resolve_range("2024-05-01", "2024-05-03", None, 0, now) == TimeRange(T0, T0 + 2 * DAY_NS)
    with pytest.raises(ValueError, match="not both"):
        resolve_range("2024-05-01", None, "1d", 0, now)
    with pytest.raises(ValueError, match="is empty"):
        resolve_range("2024-05-03", "2024-05-01", None, 0, now)
    assert iso(T0) == "2024-05-01T00:00:00Z"
    assert iso(T0 + 5) == "2024-05-01T00:00:00.000000005Z"


# -- key layout and selectors ----------------------------------------------------------------------------


def test_object_keys_follow_the_layout_and_depend_only_on_stream_and_day() -> None:
    whole = DaySlice(date(2024, 5, 1), T0, T0 + DAY_NS)
    digest = layout.stream_hash(LABELS)
    assert len(digest) == 16
    assert digest == layout.stream_hash(dict(reversed(list(LABELS.items()))))
    assert digest != layout.stream_hash({**LABELS, "level": "warn"})
    assert layout.relative_object_key("audit", whole, LABELS, False) == f"audit/2024/05/01/{digest}.ndjson.gz"
    assert layout.relative_object_key("audit", whole, LABELS, True) == f"audit/2024/05/01/{digest}.ndjson.gz.enc"
    part = DaySlice(date(2024, 5, 1), T0 + NS, T0 + 2 * NS)
    assert layout.relative_object_key("audit", part, LABELS, False) == (
        f"audit/2024/05/01/{digest}.{T0 + NS}-{T0 + 2 * NS}.ndjson.gz")
    assert layout.object_key("archive", "audit/x") == "archive/audit/x"
    assert layout.manifest_key("archive", "r1") == "archive/manifests/r1.json"
    assert layout.lock_key("archive", "audit") == "archive/locks/archive-audit.json"
    assert layout.clean_prefix("/team/archive/") == "team/archive"
    for bad in ("", "/", "a/../b", "a//b"):
        with pytest.raises(ValueError, match="prefix"):
            layout.clean_prefix(bad)


def test_selectors_are_exact_and_quoted() -> None:
    assert layout.selector({"b": "2", "a": 'say "hi"\\'}) == '{a="say \\"hi\\"\\\\", b="2"}'
    assert layout.selector({"a": "1"}, ["host", "a", "env"]) == '{a="1", env="", host=""}'
    assert layout.base_selector("audit") == '{log_type="audit", restored=""}'
    assert layout.base_selector("audit", ["auth"]) == '{log_type="audit", restored="", service="auth"}'
    assert layout.base_selector("audit", ["web", "a.b", "web"]) == (
        '{log_type="audit", restored="", service=~"a\\\\.b|web"}')


def test_stream_selectors_parse_and_match_like_loki() -> None:
    selector = parse('{service="auth", level=~"warn|error", env!="prod", host!~`db-.*`}')
    assert selector.matches({"service": "auth", "level": "warn", "env": "dev", "host": "web-1"})
    assert not selector.matches({"service": "auth", "level": "warnings", "env": "dev"})  # anchored
    assert not selector.matches({"service": "auth", "level": "error", "host": "db-2"})
    assert not selector.matches({"service": "auth", "level": "error", "env": "prod"})
    assert parse('{a="x\\"y"}').matches({"a": 'x"y'})
    for bad, why in (("service=auth", "must look like"), ("{}", "no matchers"), ("{a=x}", "cannot read"),
                     ('{a=~"("}', "bad regular expression")):
        with pytest.raises(ValueError, match=why):
            parse(bad)


# -- objects -------------------------------------------------------------------------------------------------


def test_objects_round_trip_and_the_same_lines_give_the_same_bytes() -> None:
    entries = [(T0 + 1, '{"msg": "a"}'), (T0 + 1, "line with\nnewline and ünïcode"), (T0 + 9, "")]
    data = codec.encode(LABELS, entries)
    assert data == codec.encode(LABELS, entries)  # deterministic: a rerun uploads identical bytes
    assert [(r.ts, r.line) for r in codec.decode(data)] == entries
    assert all(r.labels == LABELS for r in codec.decode(data))
    first = json.loads(gzip.decompress(data).splitlines()[0])
    assert first == {"ts": str(T0 + 1), "labels": LABELS, "line": '{"msg": "a"}'}
    builder = codec.ObjectBuilder(LABELS)
    for ts, line in entries:
        builder.add(ts, line)
    builder.finish()
    assert (builder.lines, builder.first_ts, builder.last_ts) == (3, T0 + 1, T0 + 9)


def test_a_damaged_object_is_named_not_half_read() -> None:
    with pytest.raises(ValueError, match="not a gzip object"):
        list(codec.decode(b"plain text"))
    with pytest.raises(ValueError, match="line 2 is not an archive record"):
        list(codec.decode(gzip.compress(b'{"ts":"1","labels":{},"line":"x"}\n{"ts":"2"}\n')))


# -- manifests -------------------------------------------------------------------------------------------------


def _manifest() -> Manifest:
    record = ObjectRecord(key="audit/2024/05/01/x.ndjson.gz", labels=LABELS, stream="x", day="2024-05-01",
                          start_ns=T0, end_ns=T0 + DAY_NS, complete_day=True, lines=3, first_ts=T0 + 1,
                          last_ts=T0 + 9, sha256="ab" * 32, size=120, written_by="r1")
    return Manifest(run_id="r1", query_id="q", log_type="audit", selector='{log_type="audit"}', services=["auth"],
                    start_ns=T0, end_ns=T0 + DAY_NS, range_args="--after 2024-05-01", prefix="archive",
                    bucket="b", encryption={"algorithm": "AES-256-GCM", "key_env": "K", "key_id": "abc"},
                    objects={record.key: record},
                    gaps=[Gap(LABELS, "2024-05-02", T0 + DAY_NS, T0 + 2 * DAY_NS, 10, 9)], problems=["p"])


def test_a_manifest_round_trips_through_json_with_nanoseconds_as_strings() -> None:
    manifest = _manifest()
    doc = json.loads(manifest.to_json())
    assert doc["run_id"] == "r1"
    assert doc["range"] == {"start_ns": str(T0), "end_ns": str(T0 + DAY_NS), "start": "2024-05-01T00:00:00Z",
                            "end": "2024-05-02T00:00:00Z", "arguments": "--after 2024-05-01"}
    assert doc["query"]["selector"] == '{log_type="audit"}'
    assert doc["totals"] == {"objects": 1, "lines": 3, "bytes": 120}
    assert doc["objects"][0]["first_ts"] == str(T0 + 1)
    assert doc["objects"][0]["sha256"] == "ab" * 32
    again = Manifest.from_json(manifest.to_json())
    assert again == manifest
    assert "returned 9 of 10 lines" in again.gaps[0].describe()
    with pytest.raises(ValueError, match="not an archive manifest"):
        Manifest.from_json(b'{"format": 1}')
    with pytest.raises(ValueError, match="format"):
        Manifest.from_json(b'{"format": 99}')


def test_run_ids_sort_by_time_and_query_ids_name_the_arguments() -> None:
    run_id = new_run_id(T0 + 5 * NS + 7)
    assert run_id.startswith("20240501T000005Z-")
    assert len(run_id) == 23
    assert new_run_id(T0) != new_run_id(T0)
    same = query_id("audit", '{log_type="audit"}', "--since 2d", None)
    assert same == query_id("audit", '{log_type="audit"}', "--since 2d", None)
    assert same != query_id("audit", '{log_type="audit"}', "--since 3d", None)
    assert same != query_id("audit", '{log_type="audit"}', "--since 2d", "KEY")


def test_the_report_gives_lines_per_second() -> None:
    report = ArchiveReport("r1", status="complete", lines_written=5000, seconds=2.0)
    assert report.lines_per_second == 2500
    assert any("2500 lines/s" in line for line in report.summary())
    assert report.to_dict()["lines_per_second"] == 2500


# -- counting with Loki's (T-d, T) windows ---------------------------------------------------------------


class _FakeReader:
    """Answers count_over_time the way Loki 2.2 does: lines in the open interval (T-d, T)."""

    def __init__(self, stamps: list[int]) -> None:
        self.stamps = stamps

    def instant(self, query: str, at_ns: int) -> list[dict]:
        range_ms = int(query.rsplit("[", 1)[1].split("ms]")[0])
        n = sum(1 for t in self.stamps if at_ns - range_ms * 1_000_000 < t < at_ns)
        return [{"metric": LABELS, "value": [at_ns / NS, str(n)]}] if n else []


def test_counts_cover_exactly_start_inclusive_end_exclusive() -> None:
    ms = 1_000_000
    stamps = [T0 - ms, T0 - ms + 1, T0 - 1, T0, T0 + 1, T0 + DAY_NS - 1, T0 + DAY_NS, T0 + DAY_NS + 1]
    got = counts.stream_counts(_FakeReader(stamps), "{}", T0, T0 + DAY_NS)  # type: ignore[arg-type]
    assert got == {layout.canonical_labels(LABELS): 3}  # T0, T0+1 and the last ns of the day
    assert counts.stream_counts(_FakeReader([T0 - 1]), "{}", T0, T0 + DAY_NS) == {}  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="whole milliseconds"):
        counts.stream_counts(_FakeReader([]), "{}", T0 + 1, T0 + DAY_NS)  # type: ignore[arg-type]


# -- the lock ---------------------------------------------------------------------------------------------------


def test_a_lease_is_stale_when_expired_or_its_local_owner_is_gone() -> None:
    holder = Holder(host="h1", pid=42, pid_start="99", acquired_at=100.0, expires_at=200.0)
    assert Holder.from_json(holder.to_json()) == holder
    alive = lambda pid, start: True  # noqa: E731
    dead = lambda pid, start: False  # noqa: E731
    assert stale_reason(holder, 150.0, "h1", alive) is None
    assert stale_reason(holder, 150.0, "h2", dead) is None  # another host's pid says nothing here
    assert "gone" in (stale_reason(holder, 150.0, "h1", dead) or "")
    assert "expired" in (stale_reason(holder, 250.0, "h2", alive) or "")
    with pytest.raises(ValueError, match="unreadable lock"):
        Holder.from_json(b"{}")


# -- encryption -----------------------------------------------------------------------------------------------


def test_encryption_round_trips_and_refuses_a_wrong_key_an_altered_or_a_moved_object(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("cryptography", reason="client-side encryption needs the cryptography package")
    key = bytes(range(32))
    monkeypatch.setenv("ARCHIVE_KEY", base64.b64encode(key).decode())
    assert crypto.load_key("ARCHIVE_KEY") == key
    monkeypatch.setenv("ARCHIVE_KEY_HEX", key.hex())
    assert crypto.load_key("ARCHIVE_KEY_HEX") == key
    plain = codec.encode(LABELS, [(T0, "secret line")])
    blob = crypto.encrypt(plain, key, "audit/2024/05/01/x.ndjson.gz.enc")
    assert blob.startswith(crypto.MAGIC)
    assert b"secret" not in blob
    assert blob != crypto.encrypt(plain, key, "audit/2024/05/01/x.ndjson.gz.enc")  # fresh nonce
    assert crypto.decrypt(blob, key, "audit/2024/05/01/x.ndjson.gz.enc") == plain
    with pytest.raises(crypto.EncryptionError, match="does not decrypt"):
        crypto.decrypt(blob, bytes(32), "audit/2024/05/01/x.ndjson.gz.enc")
    with pytest.raises(crypto.EncryptionError, match="does not decrypt"):
        crypto.decrypt(blob, key, "audit/2024/05/02/x.ndjson.gz.enc")
    altered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(crypto.EncryptionError, match="does not decrypt"):
        crypto.decrypt(altered, key, "audit/2024/05/01/x.ndjson.gz.enc")
    assert crypto.key_id(key) == crypto.key_id(key) != crypto.key_id(bytes(32))
    assert key.hex() not in crypto.key_id(key)


def test_a_missing_or_malformed_key_is_named_without_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("cryptography", reason="client-side encryption needs the cryptography package")
    monkeypatch.delenv("ARCHIVE_KEY", raising=False)
    with pytest.raises(crypto.EncryptionError, match=r"\$ARCHIVE_KEY is not set"):
        crypto.load_key("ARCHIVE_KEY")
    monkeypatch.setenv("ARCHIVE_KEY", "too-short-s3cr3t")
    with pytest.raises(crypto.EncryptionError, match=r"\$ARCHIVE_KEY must hold a 32-byte key") as caught:
        crypto.load_key("ARCHIVE_KEY")
    assert "s3cr3t" not in str(caught.value)


def test_an_object_is_the_gzip_of_its_lines_however_the_writes_are_grouped() -> None:
    """The builder writes ~256 kB at a time into gzip; the object must be the bytes a write per line gives."""
    import gzip
    import io
    import json

    labels = {"service": "tracking-api", "log_type": "audit"}
    lines = [f"record {i} " + "é" * (i % 97) for i in range(30_000)]
    builder = codec.ObjectBuilder(labels)
    for ts, line in enumerate(lines):
        builder.add(ts, line)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=6, mtime=0) as one_by_one:
        head = json.dumps(dict(sorted(labels.items())), separators=(",", ":"), ensure_ascii=False)
        for ts, line in enumerate(lines):
            one_by_one.write(f'{{"ts":"{ts}","labels":{head},"line":{json.dumps(line, ensure_ascii=False)}}}\n'
                             .encode())
    assert builder.finish() == buffer.getvalue()
