"""Loki's ingester ring as one of its processes sees it: read from its /ring page (JSON), waited on."""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests

from provisioning.errors import StackError


@dataclass(frozen=True)
class RingMember:
    id: str
    state: str  # ACTIVE, JOINING, LEAVING, PENDING, or Unhealthy (heartbeat older than the ring's timeout)
    address: str
    heartbeat: str


def read_ring(base_url: str, timeout: float = 3.0) -> list[RingMember]:
    """The ring as the process at ``base_url`` sees it (its /ring page, which answers JSON when asked)."""
    try:
        response = requests.get(f"{base_url}/ring", headers={"Accept": "application/json"}, timeout=timeout)
        response.raise_for_status()
        shards = response.json().get("shards") or []
    except (requests.RequestException, ValueError) as exc:
        raise StackError(f"cannot read the ring at {base_url}/ring: {exc}") from exc
    return sorted(
        (RingMember(str(s.get("id", "")), str(s.get("state", "")), str(s.get("address", "")),
                    str(s.get("timestamp", ""))) for s in shards),
        key=lambda member: member.id,
    )


def all_active(members: list[RingMember], expected: set[str]) -> bool:
    """Every expected ingester is in the ring and ACTIVE (a stale heartbeat reads as Unhealthy, not ACTIVE)."""
    states = {member.id: member.state for member in members}
    return all(states.get(name) == "ACTIVE" for name in expected)


def wait_all_active(viewers: dict[str, str], expected: set[str], timeout: float) -> list[RingMember]:
    """Wait until every viewer (name -> base URL) sees every expected ingester ACTIVE; the last ring read."""
    deadline = time.monotonic() + timeout
    last: dict[str, str] = {}
    members: list[RingMember] = []
    while True:
        pending = {}
        for name, url in viewers.items():
            try:
                members = read_ring(url)
            except StackError as exc:
                pending[name] = str(exc)
                continue
            if not all_active(members, expected):
                pending[name] = ", ".join(f"{m.id}={m.state}" for m in members) or "empty ring"
        if not pending:
            return members
        last = pending
        if time.monotonic() >= deadline:
            seen = "; ".join(f"{name} sees {what}" for name, what in last.items())
            raise StackError(
                f"the ring did not show {', '.join(sorted(expected))} ACTIVE within {timeout:.0f}s: {seen}"
            )
        time.sleep(0.5)
