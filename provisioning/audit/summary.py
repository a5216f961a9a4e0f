"""What the audit report leads with: findings by kind and severity (how many, whom, from where, when), and
repeated table rows folded into one row with a count. Pure functions over findings and report rows."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from provisioning.audit.findings import SEVERITY_ORDER, Finding

_MORE = re.compile(r" \+\d+ more$")


@dataclass(frozen=True)
class KindSummary:
    """The findings of one kind and severity."""

    kind: str
    severity: str
    findings: tuple[Finding, ...]
    events: int  # the records the findings counted
    accounts: tuple[tuple[str, int], ...]  # (account, findings naming it), most first
    places: tuple[tuple[str, int], ...]  # (address, network or country, findings naming it), most first
    first_ns: int
    last_ns: int


def _names(value: str) -> list[str]:
    """The names in a finding's who/where: 'a, b, c +4 more' -> [a, b, c]."""
    value = _MORE.sub("", value.strip())
    return [] if value in ("", "-") else [part for part in value.split(", ") if part]


def parties(finding: Finding) -> tuple[list[str], list[str]]:
    """The accounts and the addresses (or networks, countries) a finding names; a spread-out attack's from its
    evidence (its top ten), any other's from who and where."""
    evidence = finding.evidence
    accounts = [str(a) for a in evidence.get("top_accounts", ())] or _names(finding.who)
    places = [str(a) for a in evidence.get("top_addresses", ())] or _names(finding.where)
    success = evidence.get("success_address")
    if success and success not in places:
        places.append(str(success))
    return accounts, places


def by_kind(findings: Iterable[Finding]) -> list[KindSummary]:
    """One summary per kind and severity: most severe first, then the most findings, then by kind."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.kind, finding.severity), []).append(finding)
    out = []
    for (kind, severity), items in groups.items():
        accounts: Counter[str] = Counter()
        places: Counter[str] = Counter()
        for finding in items:
            who, where = parties(finding)
            accounts.update(set(who))
            places.update(set(where))
        out.append(KindSummary(kind, severity, tuple(sorted(items, key=lambda f: (f.first_ns, f.who))),
                               sum(f.count for f in items), tuple(_ranked(accounts)), tuple(_ranked(places)),
                               min(f.first_ns for f in items), max(f.last_ns for f in items)))
    return sorted(out, key=lambda s: (SEVERITY_ORDER.get(s.severity, 9), -len(s.findings), s.kind))


def _ranked(counter: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Findings per severity, in SEVERITY_ORDER (every severity, 0 when none)."""
    seen = Counter(f.severity for f in findings)
    return {severity: seen.get(severity, 0) for severity in SEVERITY_ORDER} | {
        s: n for s, n in seen.items() if s not in SEVERITY_ORDER}


def top(ranked: Sequence[tuple[str, int]], limit: int = 3) -> str:
    """'a (4), b, c +12 more': the first ``limit`` names, with their count when above one."""
    shown = ", ".join(f"{name} ({n})" if n > 1 else name for name, n in ranked[:limit])
    return shown + (f" +{len(ranked) - limit} more" if len(ranked) > limit else "")


def grouped(rows: Iterable[Mapping[str, str]], keys: Sequence[str], distinct: Mapping[str, str] | None = None,
            time_key: str = "time") -> list[dict[str, str]]:
    """Rows that agree on ``keys`` folded into one: the keys, ``count``, ``first`` and ``last`` (times), and for
    each column of ``distinct`` (column -> name of the result) how many different values it had.
    Most repeated first, then oldest first."""
    groups: dict[tuple[str, ...], list[Mapping[str, str]]] = {}
    for row in rows:
        groups.setdefault(tuple(row.get(k, "") for k in keys), []).append(row)
    out = []
    for values, items in groups.items():
        times = sorted(r.get(time_key, "") for r in items)
        row = dict(zip(keys, values, strict=True))
        row |= {"count": str(len(items)), "first": _second(times[0]), "last": _second(times[-1])}
        row |= {name: str(len({r.get(c, "") for r in items} - {""})) for c, name in (distinct or {}).items()}
        out.append(row)
    return sorted(out, key=lambda r: (-int(r["count"]), r["first"]))


def _second(stamp: str) -> str:
    """2026-11-18T11:06:40.123Z -> 2026-11-18T11:06:40Z (the tables need no more)."""
    return stamp[:19] + "Z" if len(stamp) > 20 and stamp[19] == "." else stamp
