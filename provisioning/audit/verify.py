"""Verify the hash chains of audit and security records in Loki: name every removed, reordered or altered record."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from exporters.chain import HASH, ID, PREV, SEQ, record_hash
from provisioning.lokiquery import Entry


@dataclass(frozen=True)
class Finding:
    kind: str  # removed | altered | reordered | unlinked | duplicated
    chain: str
    seq: int
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: chain {self.chain} seq {self.seq}: {self.detail}"


@dataclass(frozen=True)
class Report:
    chains: int
    records: int
    unchained: int
    findings: tuple[Finding, ...]


def _read(line: str) -> tuple[object, bool]:
    """A record's JSON and whether it matches its hash. orjson reads it (several times faster on a million lines);
    where the hash does not match, the standard library reads it again before that counts: orjson turns integers
    beyond 64 bits into floats, which would change the canonical JSON the hash is over."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        event = json.loads(line)
    if not isinstance(event, dict) or ID not in event:
        return event, False
    if record_hash(event) == event.get(HASH):
        return event, True
    event = json.loads(line)
    return event, record_hash(event) == event.get(HASH)


def verify(entries: Iterable[Entry]) -> Report:
    """Check every chain found among ``entries`` (oldest first, as LokiReader.entries yields them)."""
    chains: dict[str, list[tuple[int, int, dict]]] = defaultdict(list)
    unchained = records = 0
    for position, entry in enumerate(entries):
        records += 1
        try:
            event, intact = _read(entry.line)
        except ValueError:
            unchained += 1
            continue
        if not isinstance(event, dict) or ID not in event:
            unchained += 1
            continue
        chains[str(event[ID])].append((int(event[SEQ]), position,
                                       event | {"_ts": entry.timestamp_ns, "_intact": intact}))
    findings: list[Finding] = []
    for chain_id, items in chains.items():
        findings.extend(_check(chain_id, items))
    return Report(len(chains), records, unchained, tuple(findings))


def _check(chain_id: str, items: list[tuple[int, int, dict]]) -> list[Finding]:
    found: list[Finding] = []
    by_seq = sorted(items, key=lambda item: (item[0], item[1]))
    previous: dict | None = None
    for seq, _, event in by_seq:
        ts = event.pop("_ts")
        if not event.pop("_intact"):
            found.append(Finding("altered", chain_id, seq, f"the record logged at {ts} does not match its hash"))
        if previous is not None:
            prev_seq, prev_ts = previous[SEQ], previous["_seen_ts"]
            if seq == prev_seq:
                found.append(Finding("duplicated", chain_id, seq, "two records carry this sequence number"))
            elif seq > prev_seq + 1:
                missing = f"{prev_seq + 1}" if seq == prev_seq + 2 else f"{prev_seq + 1}..{seq - 1}"
                found.append(Finding("removed", chain_id, seq,
                                     f"record(s) {missing} are missing between {prev_ts} and {ts}"))
            elif event.get(PREV) != previous.get(HASH):
                found.append(Finding("unlinked", chain_id, seq, f"does not link to record {prev_seq}"))
            if ts < prev_ts:
                found.append(Finding("reordered", chain_id, seq,
                                     f"stored at {ts}, before record {prev_seq} at {prev_ts}"))
        previous = {**event, "_seen_ts": ts}
    return found
