"""Helpers for tests (ours and users'): a scriptable fake transport and a decoder for what the client sends."""

from __future__ import annotations

import gzip
import json
import threading
from collections import deque
from collections.abc import Iterable

import cramjam

from exporters.loki.encode import Encoded
from exporters.loki.transport import Response, TransportError

Decoded = tuple[dict[str, str], int, str]


class FakeTransport:
    """Records every batch; answers from a script of statuses (int), exceptions, or 204 when the script is empty."""

    def __init__(self, script: Iterable[int | Exception | Response] = ()) -> None:
        self.script: deque[int | Exception | Response] = deque(script)
        self.requests: list[Encoded] = []
        self.accepted: list[Decoded] = []
        self.lock = threading.Lock()
        self.closed = 0

    def send(self, batch: Encoded) -> Response:
        with self.lock:
            self.requests.append(batch)
            step = self.script.popleft() if self.script else 204
        if isinstance(step, Exception):
            raise step
        answer = step if isinstance(step, Response) else Response(step, "" if step < 300 else f"status {step}")
        if 200 <= answer.status < 300:
            with self.lock:
                self.accepted.extend(decode(batch))
        return answer

    def close(self) -> None:
        self.closed += 1

    def lines(self) -> list[str]:
        with self.lock:
            return [line for _, _, line in self.accepted]


def decode(batch: Encoded) -> list[Decoded]:
    """Decode a push body (JSON or protobuf) back into (labels, timestamp_ns, line) rows."""
    if batch.content_type == "application/json":
        body = gzip.decompress(batch.body) if batch.content_encoding == "gzip" else batch.body
        rows = []
        for stream in json.loads(body)["streams"]:
            for value in stream["values"]:
                rows.append((stream["stream"], int(value[0]), value[1]))
        return rows
    raw = bytes(cramjam.snappy.decompress_raw(batch.body))
    rows = []
    for field, stream in _fields(raw):
        if field != 1:
            continue
        labels: dict[str, str] = {}
        entries = []
        for sub, value in _fields(stream):
            if sub == 1:
                labels = _parse_labels(value.decode())
            elif sub == 2:
                ts, line = 0, ""
                for f, v in _fields(value):
                    if f == 1:
                        parts = dict(_varint_fields(v))
                        ts = parts.get(1, 0) * 1_000_000_000 + parts.get(2, 0)
                    elif f == 2:
                        line = v.decode("utf-8")
                entries.append((ts, line))
        rows.extend((labels, ts, line) for ts, line in entries)
    return rows


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        if key & 7 != 2:
            raise ValueError(f"unexpected wire type {key & 7}")
        length, pos = _varint(data, pos)
        out.append((key >> 3, data[pos:pos + length]))
        pos += length
    return out


def _varint_fields(data: bytes) -> list[tuple[int, int]]:
    out, pos = [], 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        value, pos = _varint(data, pos)
        out.append((key >> 3, value))
    return out


def _parse_labels(text: str) -> dict[str, str]:
    out = {}
    for part in _split_labels(text):
        key, _, value = part.partition("=")
        out[key.strip()] = json.loads(value)
    return out


def _split_labels(text: str) -> list[str]:
    inner, parts, current, quoted, escape = text.strip()[1:-1], [], "", False, False
    for ch in inner:
        if escape:
            current += ch
            escape = False
        elif ch == "\\":
            current += ch
            escape = True
        elif ch == '"':
            current += ch
            quoted = not quoted
        elif ch == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    return parts


__all__ = ["FakeTransport", "TransportError", "decode"]
