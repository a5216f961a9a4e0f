"""Spread-out attacks on the auth service: many addresses, 1-3 attempts each, so no single address or account
crosses a per-address threshold. Pure functions over the login records (``auth.login``), oldest first.

Each detector slides a window of ``security.attacks.window`` over the logins in steps of a fifth of it (as the
Loki ruler evaluates its rule over the last window at every interval); windows that meet the thresholds and
overlap merge into one incident, and each incident is one finding (one page, not one per address or account)
whose ``evidence`` says what it saw. A window is classified once, most specific first: credential stuffing
(a high share of unknown users), else password spraying (bad passwords over many accounts, few tries each,
few unknown users), else a failure-ratio surge against the auth service's own earlier baseline.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from provisioning.audit.findings import Finding, example, listed, record_ns
from provisioning.securityconfig import Attacks
from provisioning.timerange import NS, format_ns

Record = Mapping[str, Any]
UNKNOWN_USER, BAD_PASSWORD = "unknown_user", "bad_password"
STUFFING, SPRAYING, SURGE = "credential_stuffing", "password_spraying", "failure_surge"
SPREAD_SUCCESS = "spread_success_after_failures"
STEPS_PER_WINDOW = 5


def _failed(r: Record) -> bool:
    return r.get("auth.outcome") == "failure"


def _account(r: Record) -> str:
    return str(r.get("user.id") or r.get("user.name") or "")


def _address(r: Record) -> str:
    return str(r.get("client.address") or "")


@dataclass
class WindowStats:
    """What one window of logins holds."""

    attempts: int
    failures: list[Record]
    unknown: int
    spray_accounts: set[str]  # accounts with 1..attempts_per_account bad-password failures
    spray_addresses: set[str]  # the addresses of bad-password failures

    @property
    def accounts(self) -> set[str]:
        return {_account(r) for r in self.failures} - {""}

    @property
    def addresses(self) -> set[str]:
        return {_address(r) for r in self.failures} - {""}

    @property
    def unknown_share(self) -> float:
        return self.unknown / len(self.failures) if self.failures else 0.0


def window_stats(logins: Sequence[Record], attacks: Attacks) -> WindowStats:
    failures = [r for r in logins if _failed(r)]
    bad = [r for r in failures if r.get("auth.reason") == BAD_PASSWORD]
    per_account = Counter(_account(r) for r in bad)
    spray = {a for a, n in per_account.items() if a and n <= attacks.spraying_attempts_per_account}
    return WindowStats(len(logins), failures, sum(r.get("auth.reason") == UNKNOWN_USER for r in failures), spray,
                       {_address(r) for r in bad} - {""})


def is_stuffing(s: WindowStats, a: Attacks) -> bool:
    return (len(s.accounts) >= a.stuffing_accounts and len(s.addresses) >= a.stuffing_addresses
            and s.unknown_share >= a.stuffing_unknown_share)


def is_spraying(s: WindowStats, a: Attacks) -> bool:
    return (len(s.spray_accounts) >= a.spraying_accounts and len(s.spray_addresses) >= a.spraying_addresses
            and s.unknown_share < a.stuffing_unknown_share)


def surge(s: WindowStats, before: Sequence[Record], a: Attacks) -> tuple[float, float] | None:
    """(this window's failure ratio, the baseline's) when it surged, else None. The baseline is the auth
    service's logins before this window, back to ``baseline`` before its end; no baseline, no surge."""
    if not before or len(s.failures) < a.surge_failures:
        return None
    ratio = len(s.failures) / s.attempts
    baseline = sum(map(_failed, before)) / len(before)
    if ratio >= a.surge_ratio and ratio > a.surge_factor * baseline and not is_stuffing(s, a) \
            and not is_spraying(s, a):
        return ratio, baseline
    return None


def spread_attacks(logins: Sequence[Record], attacks: Attacks) -> list[Finding]:
    """Credential stuffing, password spraying and failure-ratio surges among ``logins`` (oldest first)."""
    if not logins:
        return []
    times = [record_ns(r) for r in logins]
    step = max(1, attacks.window_ns // STEPS_PER_WINDOW)
    hot: dict[str, list[tuple[int, int, dict[str, Any]]]] = defaultdict(list)  # kind -> (first i, end i, facts)
    lo = base = 0
    hi = 0
    end = times[0] + step
    while end <= times[-1] + attacks.window_ns:
        while hi < len(times) and times[hi] < end:
            hi += 1
        while lo < hi and times[lo] < end - attacks.window_ns:
            lo += 1
        while base < lo and times[base] < end - attacks.surge_baseline_ns:
            base += 1
        if lo < hi and any(_failed(r) for r in logins[lo:hi]):
            stats = window_stats(logins[lo:hi], attacks)
            if is_stuffing(stats, attacks):
                hot[STUFFING].append((lo, hi, {}))
            elif is_spraying(stats, attacks):
                hot[SPRAYING].append((lo, hi, {}))
            else:
                ratios = surge(stats, logins[base:lo], attacks)
                if ratios:
                    hot[SURGE].append((lo, hi, {"ratio": ratios[0], "baseline_ratio": ratios[1]}))
        end += step
    found = []
    for kind, windows in hot.items():
        for first, last, facts in _merge(windows):
            found.append(_describe(kind, logins[first:last], attacks, facts))
    return found


def _merge(windows: list[tuple[int, int, dict[str, Any]]]) -> list[tuple[int, int, dict[str, Any]]]:
    """Overlapping hot windows as one incident; the facts of its worst window (highest ratio) kept."""
    merged: list[tuple[int, int, dict[str, Any]]] = []
    for first, last, facts in windows:
        if merged and first < merged[-1][1]:
            keep = max(merged[-1][2], facts, key=lambda f: f.get("ratio", 0.0))
            merged[-1] = (merged[-1][0], max(last, merged[-1][1]), keep)
        else:
            merged.append((first, last, facts))
    return merged


def _top(values: list[str]) -> list[str]:
    return [v for v, _ in Counter(v for v in values if v).most_common()]


def _describe(kind: str, logins: Sequence[Record], attacks: Attacks, facts: dict[str, Any]) -> Finding:
    failures = [r for r in logins if _failed(r)]
    if kind == SPRAYING:
        failures = [r for r in failures if r.get("auth.reason") == BAD_PASSWORD]
    accounts, addresses = _top([_account(r) for r in failures]), _top([_address(r) for r in failures])
    unknown = sum(r.get("auth.reason") == UNKNOWN_USER for r in failures)
    first, last = record_ns(failures[0]), record_ns(failures[-1])
    tried: dict[str, set[str]] = defaultdict(set)  # address -> accounts it failed for
    for r in failures:
        tried[_address(r)].add(_account(r))
    # a success from an address that failed for other accounts: the attack got in (a user who mistyped their
    # own password and then logged in is not one)
    # (and failed at least as often as it succeeded: not a carrier's NAT address shared by many customers)
    succeeded = Counter(_address(r) for r in logins if r.get("auth.outcome") == "success")
    failed = Counter(_address(r) for r in failures)
    successes = [r for r in logins if r.get("auth.outcome") == "success" and tried.get(_address(r), set())
                 - {_account(r)} and failed[_address(r)] >= succeeded[_address(r)]]
    evidence: dict[str, Any] = {
        "window": f"{attacks.window_ns // NS}s", "from": format_ns(first, 0), "to": format_ns(last, 0),
        "failures": len(failures), "attempts": len(logins), "accounts": len(accounts), "addresses": len(addresses),
        "top_accounts": accounts[:10], "top_addresses": addresses[:10],
        "unknown_user_share": round(unknown / len(failures), 3) if failures else 0.0,
        "attempts_per_address": round(len(failures) / max(1, len(addresses)), 2),
        "successes_from_these_addresses": len(successes),
        "accounts_logged_into": _top([_account(r) for r in successes])[:10],
        **{k: round(v, 3) for k, v in facts.items()},
    }
    minutes = max(1, round((last - first) / NS / 60))
    if kind == STUFFING:
        severity = "critical" if successes else "high"
        detail = (f"{len(failures)} failed logins against {len(accounts)} accounts from {len(addresses)} addresses "
                  f"in {minutes} min, {evidence['unknown_user_share']:.0%} unknown users (thresholds: "
                  f"{attacks.stuffing_accounts} accounts, {attacks.stuffing_addresses} addresses, "
                  f"{attacks.stuffing_unknown_share:.0%} unknown within {attacks.window_ns // NS}s)")
    elif kind == SPRAYING:
        severity = "critical" if successes else "high"
        detail = (f"bad passwords for {len(accounts)} accounts, {len(failures) / max(1, len(accounts)):.1f} tries "
                  f"each, from {len(addresses)} addresses in {minutes} min (thresholds: "
                  f"{attacks.spraying_accounts} accounts with at most {attacks.spraying_attempts_per_account} "
                  f"tries, {attacks.spraying_addresses} addresses within {attacks.window_ns // NS}s)")
    else:
        severity = "high"
        before_min = (attacks.surge_baseline_ns - attacks.window_ns) // NS // 60
        detail = (f"failure ratio {facts['ratio']:.0%} of {len(logins)} logins against a baseline of "
                  f"{facts['baseline_ratio']:.0%} over the {before_min} min before "
                  f"({len(failures)} failures from {len(addresses)} addresses, {len(accounts)} accounts; "
                  f"thresholds: {attacks.surge_factor:g}x baseline, {attacks.surge_ratio:.0%}, "
                  f"{attacks.surge_failures} failures)")
    if successes:
        detail += f"; {len(successes)} successful login(s) from these addresses"
    return Finding(kind, severity, first, last, listed(accounts), listed(addresses), len(failures), detail,
                   example(failures[-1]), evidence)


def spread_success_after_failures(logins: Sequence[Record], attacks: Attacks) -> tuple[list[Finding], set[int]]:
    """A successful login of an account after failures from >= spread_success_addresses distinct addresses
    within the window (no success between). Returns the findings and the ids of the successes they explain."""
    streaks: dict[str, list[Record]] = defaultdict(list)
    found, explained = [], set()
    for record in logins:
        user = _account(record)
        if not user:
            continue
        if _failed(record):
            streaks[user].append(record)
            continue
        if record.get("auth.outcome") != "success":
            continue
        at = record_ns(record)
        run = [r for r in streaks.pop(user, []) if at - record_ns(r) <= attacks.window_ns]
        addresses = _top([_address(r) for r in run])
        if len(addresses) < attacks.spread_success_addresses:
            continue
        explained.add(id(record))
        found.append(Finding(
            SPREAD_SUCCESS, "critical", record_ns(run[0]), at, user, _address(record) or "-", len(run) + 1,
            f"login succeeded from {_address(record) or 'an unknown address'} after {len(run)} failures from "
            f"{len(addresses)} addresses ({listed(addresses)}) within {(at - record_ns(run[0])) // NS}s "
            f"(threshold {attacks.spread_success_addresses} addresses within {attacks.window_ns // NS}s)",
            example(record),
            {"failures": len(run), "addresses": len(addresses), "top_addresses": addresses[:10],
             "success_address": _address(record), "window": f"{attacks.window_ns // NS}s"}))
    return found, explained
