"""audit verify reads records with orjson and falls back to the standard library for what orjson refuses, so a record
with an integer beyond 64 bits is still read, and its chain still verifies."""

from __future__ import annotations

import json

from exporters.chain import HASH, ID, PREV, SEQ, record_hash
from provisioning.audit.verify import verify
from provisioning.lokiquery import Entry


def _chain(events: list[dict]) -> list[Entry]:
    previous = ""
    entries = []
    for seq, event in enumerate(events):
        event = {**event, ID: "chain-1", SEQ: seq, PREV: previous}
        event[HASH] = record_hash(event)
        previous = event[HASH]
        entries.append(Entry(1_000 + seq, json.dumps(event), {"log_type": "audit"}))
    return entries


def test_a_record_orjson_refuses_is_read_and_its_chain_verifies():
    entries = _chain([{"message": "grant", "order.id": 2**70}, {"message": "revoke", "ratio": 0.5}])
    report = verify(entries)
    assert report.findings == ()
    assert report.records == 2


def test_a_changed_record_is_still_found():
    entries = _chain([{"message": "grant", "order.id": 2**70}, {"message": "revoke"}])
    tampered = json.loads(entries[0].line) | {"message": "grant admin"}
    entries[0] = Entry(entries[0].timestamp_ns, json.dumps(tampered), entries[0].labels)
    assert verify(entries).findings
