"""Per-user baselines: a successful login from a country, a network or (for admins) a user agent that this
user has not logged in from within the look-back. Each user is compared with their own history, not with a
global list; a user without any earlier login in the look-back has no baseline and gives no finding.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from provisioning.audit.findings import Finding, example, listed, record_ns
from provisioning.securityconfig import SecurityConfig
from provisioning.timerange import NS

Record = Mapping[str, Any]
IPV4_PREFIX, IPV6_PREFIX = 24, 48  # a user's "network": the /24 or /48 around the address


def country(record: Record) -> str:
    return str(record.get("client.geo.country_iso_code") or "").upper()


def network(record: Record) -> str:
    text = str(record.get("client.address") or "").strip().strip("[]")
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return ""
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def user_agent(record: Record) -> str:
    return str(record.get("user_agent.original") or "")


def duration_text(ns: int) -> str:
    """30d, 12h, 45m or 20s: the largest unit that divides ``ns``."""
    seconds = ns // NS
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


BASELINES: dict[str, tuple[str, Callable[[Record], str]]] = {
    "new_country": ("country", country),
    "new_network": ("network", network),
    "new_user_agent": ("user agent", user_agent),
}


def new_for_user(successes: Sequence[Record], history: Sequence[Record], security: SecurityConfig,
                 start_ns: int) -> list[Finding]:
    """Findings for the successful logins at or after ``start_ns`` (oldest first) whose country / network /
    user agent the user had not used within the look-back; ``history`` holds the earlier successful logins.
    One finding per user and new value."""
    found: list[Finding] = []
    ordered = sorted([*history, *successes], key=record_ns)
    for kind, (what, value_of) in BASELINES.items():
        scope = security.scope(kind)
        seen: dict[str, dict[str, int]] = defaultdict(dict)  # user -> value -> last seen
        groups: dict[tuple[str, str], list[tuple[Record, dict[str, int]]]] = {}
        for record in ordered:
            user, value = str(record.get("user.id") or ""), value_of(record)
            if not user or not value or not security.applies(kind, record):
                continue
            at = record_ns(record)
            known = {v: t for v, t in seen[user].items() if at - t <= scope.lookback_ns}
            if at >= start_ns and known and value not in known:
                groups.setdefault((user, value), []).append((record, known))
            seen[user][value] = at
        for (user, value), items in groups.items():
            record, known = items[0]
            usual = sorted(known, key=known.__getitem__, reverse=True)
            found.append(Finding(
                kind, scope.severity, record_ns(record), record_ns(items[-1][0]), user, value, len(items),
                f"first login from {what} {value} within {duration_text(scope.lookback_ns)} "
                f"(population {security.population_of(record) or '-'}; before: {listed(usual, 3)})",
                example(record), {"usual": usual[:10], "new": value}))
    return found
