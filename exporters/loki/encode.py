"""Encode a batch for Loki's push API: protobuf + snappy (Loki's native format) or JSON + gzip."""

from __future__ import annotations

import gzip
import json
import operator
import struct
from collections.abc import Iterable, Mapping
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


_BY_TIME = operator.itemgetter(1)  # Entry.timestamp_ns


def group(entries: Iterable[Entry]) -> dict[LabelSet, list[Entry]]:
    """Group entries by stream, each stream in time order (older Loki rejects out-of-order lines)."""
    streams: dict[LabelSet, list[Entry]] = {}
    for entry in entries:
        values = streams.get(entry.labels)
        if values is None:
            streams[entry.labels] = [entry]
        else:
            values.append(entry)
    for values in streams.values():
        values.sort(key=_BY_TIME)  # stable, and linear for the usual already-ordered stream
    return streams


def encode_json(streams: Mapping[LabelSet, list[Entry]], compress: bool = True) -> Encoded:
    """A JSON push body (gzip) of a batch grouped by :func:`group`."""
    body_streams = [
        {"stream": dict(labels), "values": [
            [str(e.timestamp_ns), e.line, dict(e.metadata)] if e.metadata else [str(e.timestamp_ns), e.line]
            for e in values
        ]}
        for labels, values in streams.items()
    ]
    payload = {"streams": body_streams}
    try:
        body = orjson.dumps(payload)
    except TypeError:  # a line holding lone surrogates (e.g. a file read with errors="surrogateescape")
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")
    if compress:
        return Encoded(gzip.compress(body, compresslevel=1), "application/json", "gzip")
    return Encoded(body, "application/json", None)


def encode_protobuf(streams: Mapping[LabelSet, list[Entry]]) -> Encoded:
    """logproto.PushRequest, snappy block-compressed, as Promtail sends it, of a batch grouped by :func:`group`."""
    out = bytearray()
    for labels, values in streams.items():
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
