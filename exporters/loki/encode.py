"""Encode a batch for Loki's push API: protobuf + snappy (Loki's native format) or JSON + gzip."""

from __future__ import annotations

import gzip
import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import cramjam
import orjson

from exporters.loki.labels import LabelSet, render


class Entry(NamedTuple):
    """One log line on its way to Loki, stamped with the time its record was created."""

    labels: LabelSet
    timestamp_ns: int
    line: str
    metadata: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Encoded:
    body: bytes
    content_type: str
    content_encoding: str | None


def group(entries: Iterable[Entry]) -> dict[LabelSet, list[Entry]]:
    """Group entries by stream, each stream in time order (older Loki rejects out-of-order lines)."""
    streams: dict[LabelSet, list[Entry]] = {}
    for entry in entries:
        streams.setdefault(entry.labels, []).append(entry)
    for values in streams.values():
        values.sort(key=lambda e: e.timestamp_ns)
    return streams


def encode_json(entries: Iterable[Entry], compress: bool = True) -> Encoded:
    streams = []
    for labels, values in group(entries).items():
        rows = []
        for e in values:
            row: list[object] = [str(e.timestamp_ns), e.line]
            if e.metadata:
                row.append(dict(e.metadata))
            rows.append(row)
        streams.append({"stream": dict(labels), "values": rows})
    payload = {"streams": streams}
    try:
        body = orjson.dumps(payload)
    except TypeError:  # a line holding lone surrogates (e.g. a file read with errors="surrogateescape")
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")
    if compress:
        return Encoded(gzip.compress(body, compresslevel=1), "application/json", "gzip")
    return Encoded(body, "application/json", None)


def encode_protobuf(entries: Iterable[Entry]) -> Encoded:
    """logproto.PushRequest, snappy block-compressed, as Promtail sends it."""
    out = bytearray()
    for labels, values in group(entries).items():
        stream = bytearray()
        _bytes_field(stream, 1, render(labels).encode("utf-8"))
        for e in values:
            _bytes_field(stream, 2, _entry(e))
        _bytes_field(out, 1, bytes(stream))
    body = bytes(cramjam.snappy.compress_raw(bytes(out)))
    return Encoded(body, "application/x-protobuf", None)


ENCODERS = {"protobuf": encode_protobuf, "json": encode_json}


def _entry(e: Entry) -> bytes:
    ts = bytearray()
    seconds, nanos = divmod(e.timestamp_ns, 1_000_000_000)
    if seconds:
        ts += b"\x08" + _varint(seconds)
    if nanos:
        ts += b"\x10" + _varint(nanos)
    out = bytearray()
    _bytes_field(out, 1, bytes(ts))
    _bytes_field(out, 2, e.line.encode("utf-8", "replace"))
    for name, value in e.metadata:  # LabelPairAdapter structuredMetadata = 3 (Loki >= 2.9; older ones skip it)
        pair = bytearray()
        _bytes_field(pair, 1, name.encode())
        _bytes_field(pair, 2, value.encode("utf-8", "replace"))
        _bytes_field(out, 3, bytes(pair))
    return bytes(out)


def _bytes_field(out: bytearray, number: int, payload: bytes) -> None:
    out += _varint((number << 3) | 2)
    out += _varint(len(payload))
    out += payload


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    if value < 0x80:
        return struct.pack("B", value)
    parts = bytearray()
    while value >= 0x80:
        parts.append((value & 0x7F) | 0x80)
        value >>= 7
    parts.append(value)
    return bytes(parts)
