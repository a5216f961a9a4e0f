"""Archive objects as gzip-compressed NDJSON: one {"ts": "<ns>", "labels": {...}, "line": "..."} per line."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator, Mapping
from typing import NamedTuple


class Record(NamedTuple):
    ts: int
    labels: dict[str, str]
    line: str


_WRITE_BYTES = 256 * 1024


class ObjectBuilder:
    """Compress records as they arrive; the same records always give the same bytes (gzip mtime 0).

    Args:
        labels: the stream's labels, written on every line (encoded once here).
    """

    def __init__(self, labels: Mapping[str, str], compresslevel: int = 6) -> None:
        self._labels_json = json.dumps(dict(sorted(labels.items())), separators=(",", ":"), ensure_ascii=False)
        self._buffer = io.BytesIO()
        self._gzip = gzip.GzipFile(fileobj=self._buffer, mode="wb", compresslevel=compresslevel, mtime=0)
        self.lines = 0
        self.first_ts = 0
        self.last_ts = 0
        self.raw_bytes = 0
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    def add(self, ts: int, line: str) -> None:
        encoded = (
            f'{{"ts":"{ts}","labels":{self._labels_json},"line":'
            f"{json.dumps(line, ensure_ascii=False)}}}\n"
        ).encode()
        self._pending.append(encoded)
        self._pending_bytes += len(encoded)
        if self._pending_bytes >= _WRITE_BYTES:
            self._write_pending()
        self.raw_bytes += len(encoded)
        if not self.lines:
            self.first_ts = ts
        self.last_ts = ts
        self.lines += 1

    def _write_pending(self) -> None:
        # one write per ~256 kB rather than per line: a zlib call per line cost 14% of an archive run; the
        # compressed bytes are the same either way (deflate does not depend on how its input is split)
        self._gzip.write(b"".join(self._pending))
        self._pending.clear()
        self._pending_bytes = 0

    def finish(self) -> bytes:
        self._write_pending()
        self._gzip.close()
        return self._buffer.getvalue()


def encode(labels: Mapping[str, str], entries: list[tuple[int, str]]) -> bytes:
    builder = ObjectBuilder(labels)
    for ts, line in entries:
        builder.add(ts, line)
    return builder.finish()


def decode(data: bytes) -> Iterator[Record]:
    """Every record of an object, in stored order.

    Raises:
        ValueError: the bytes are not gzip, or a line is not a record.
    """
    try:
        text = gzip.decompress(data)
    except (OSError, EOFError) as exc:
        raise ValueError(f"not a gzip object ({exc})") from exc
    for number, raw in enumerate(text.splitlines(), 1):
        try:
            doc = json.loads(raw)
            yield Record(int(doc["ts"]), dict(doc["labels"]), str(doc["line"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"line {number} is not an archive record ({exc})") from exc
