"""Tamper evidence for audit and security records: each carries a hash chained to the previous one of its chain.

A chain is one process's records of one (service, log_type): ``chain.id`` (random per process and log type),
``chain.seq`` (1, 2, 3, ...), ``chain.prev`` (the previous record's hash) and ``chain.hash`` = sha256 over
``chain.prev`` and the record's canonical JSON (sorted keys, without ``chain.hash``), computed on the record as it
is shipped, after redaction. `tracklog audit verify` recomputes the chain from Loki and names every removed,
reordered or altered record.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from typing import Any

CHAINED_TYPES = frozenset({"audit", "security"})
ID, SEQ, PREV, HASH = "chain.id", "chain.seq", "chain.prev", "chain.hash"
GENESIS = "0" * 64


def record_hash(event: dict[str, Any]) -> str:
    """sha256 of the record without its own hash, in canonical JSON; the previous hash is inside as chain.prev."""
    body = {k: v for k, v in event.items() if k != HASH}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class HashChain:
    """Stamps chain fields on audit and security events; one instance per formatter (one chain per log type)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[tuple[str, str], tuple[str, int, str]] = {}  # (service, type) -> (id, seq, last hash)
        os.register_at_fork(after_in_child=self._state.clear)  # a forked worker starts chains of its own

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        log_type = event.get("log_type")
        if log_type not in CHAINED_TYPES:
            return event
        key = (str(event.get("service")), str(log_type))
        with self._lock:
            chain_id, seq, prev = self._state.get(key) or (os.urandom(8).hex(), 0, GENESIS)
            seq += 1
            event[ID], event[SEQ], event[PREV] = chain_id, seq, prev
            event[HASH] = record_hash(event)
            self._state[key] = (chain_id, seq, event[HASH])
        return event
