"""tracklog's push bodies, decoded by Loki 3's own push types: streams, labels, timestamps, lines, structured metadata.

The stack's Loki (2.2.1, the last Apache-2.0 one) has no structured metadata, so the encoding of it is checked
against ``pushcheck`` (stack/pushcheck/), built with Loki's separately published, Apache-2.0 push module
(github.com/grafana/loki/pkg/push): protobuf bodies are snappy-decoded and unmarshalled as ``push.PushRequest``
exactly as Loki 3's distributor does; JSON bodies are decoded strictly per Loki's documented push format (the
module has no JSON push decoder), the metadata object with the module's ``LabelsAdapter``.
"""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from exporters.loki.encode import Encoded, Entry, encode_json, encode_protobuf, group
from exporters.loki.labels import LabelSet, label_set, render
from provisioning.stack.servers import pushcheck_binary

ROOT = Path(__file__).resolve().parents[2]

TRACE = (("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"), ("order_id", "o-42"))
TRICKY = 'Zürich "quoted" \\ ✓\n'

API = label_set({"service": "api", "env": "prod", "level": "info"})
WORKER = label_set({"service": "worker", "env": "prod", "level": "error"})
# A label value with quotes, a backslash and non-ASCII.
ODD = label_set({"service": "odd", "note": 'say "hi" \\ to Zürich'})

ENTRIES = [
    Entry(API, 1_700_000_000_123_456_789, "GET /orders 200", TRACE),
    Entry(WORKER, 1_700_000_000_987_654_321, TRICKY, (("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),)),
    Entry(API, 1_700_000_000_123_456_001, "earlier line, no metadata"),  # out of order: group() sorts it first
    Entry(API, 1_700_000_001_000_000_000, TRICKY, (("order_id", "o-42"), ("note", 'ü "x" \\ y'))),  # whole second
    Entry(ODD, 1_700_000_002_000_000_007, "", ()),  # empty line
    Entry(WORKER, 1_700_000_003_000_000_999, "tab\there, {braces} and [brackets]", TRACE),
]


@functools.cache
def _binary() -> Path:
    return pushcheck_binary(ROOT)


@pytest.fixture
def pushcheck() -> Path:
    """The built binary; not a skip when missing, and checked in the test so the test itself FAILS."""
    return _binary()


def _require(binary: Path) -> None:
    if not binary.is_file():
        pytest.fail(
            f"pushcheck is not built ({binary} is missing): run `tracklog stack build` "
            "(or `bash stack/build/pushcheck.sh`); `make test` builds it first",
            pytrace=False,
        )


def _decode(binary: Path, encoded: Encoded) -> dict[str, Any]:
    _require(binary)
    result = subprocess.run(
        [str(binary), "-content-type", encoded.content_type, "-content-encoding", encoded.content_encoding or ""],
        input=encoded.body, capture_output=True, check=False, timeout=30,
    )
    assert result.returncode == 0, f"pushcheck rejected the body: {result.stderr.decode(errors='replace')}"
    decoded: dict[str, Any] = json.loads(result.stdout)
    return decoded


def _expected(streams: dict[LabelSet, list[Entry]]) -> list[dict[str, Any]]:
    # Every label value here is printable, so Loki's rendering of a JSON push's labels (sorted, Go-quoted) is
    # the same string tracklog sends in a protobuf push (labels.render).
    return [
        {
            "labels": render(labels),
            "label_map": dict(labels),
            "entries": [
                {"ts_ns": str(e.timestamp_ns), "line": e.line, "structured_metadata": dict(e.metadata)}
                for e in entries
            ],
        }
        for labels, entries in streams.items()
    ]


@pytest.mark.parametrize(
    "encode",
    [encode_protobuf, encode_json, lambda streams: encode_json(streams, compress=False)],
    ids=["protobuf-snappy", "json-gzip", "json-plain"],
)
def test_loki3_decodes_what_was_encoded(pushcheck: Path, encode: Any) -> None:
    streams = group(ENTRIES)
    decoded = _decode(pushcheck, encode(streams))
    assert decoded["streams"] == _expected(streams)
    # The order group() put each stream in (by time) is the order Loki receives.
    api = decoded["streams"][0]["entries"]
    assert [e["ts_ns"] for e in api] == ["1700000000123456001", "1700000000123456789", "1700000001000000000"]


def test_label_value_with_a_quote_is_parsed_back(pushcheck: Path) -> None:
    streams = group([Entry(ODD, 1_700_000_000_000_000_001, "x", TRACE)])
    decoded = _decode(pushcheck, encode_protobuf(streams))
    assert decoded["streams"][0]["labels"] == '{note="say \\"hi\\" \\\\ to Zürich", service="odd"}'
    assert decoded["streams"][0]["label_map"] == {"note": 'say "hi" \\ to Zürich', "service": "odd"}


def test_pushcheck_rejects_what_loki_would(pushcheck: Path) -> None:
    _require(pushcheck)
    streams = group(ENTRIES[:1])
    bad = [
        Encoded(encode_protobuf(streams).body, "application/json", None),  # snappy bytes are not JSON
        Encoded(encode_json(streams, compress=False).body, "application/x-protobuf", None),  # not snappy
        Encoded(b'{"streams":[{"stream":{"a":"b"},"values":[["1","x",{"k":"v"},"extra"]]}]}', "application/json", None),
        Encoded(b'{"streams":[{"stream":{"a":"b"},"values":[[1,"x"]]}]}', "application/json", None),  # ts not a string
        Encoded(b'{"streams":[{"stream":{"a":"b"},"values":[["1","x",{"k":1}]]}]}', "application/json", None),
    ]
    for encoded in bad:
        result = subprocess.run(
            [str(pushcheck), "-content-type", encoded.content_type], input=encoded.body,
            capture_output=True, check=False, timeout=30,
        )
        assert result.returncode != 0, encoded.body[:80]
        assert result.stderr.startswith(b"pushcheck: ")
