"""Detect suspicious activity in security and audit records: pure functions over a list of record dicts.

Records are the JSON events the exporters write (flat, dotted OpenTelemetry keys: ``event.name``, ``user.id``,
``client.address``...). A record's time is ``_ts_ns`` (the Loki entry's timestamp, set by :func:`records_from`)
or else its ``timestamp`` field. Thresholds and the security policy come from tracklog.yaml (``thresholds`` and
``security``); see :meth:`Thresholds.from_config` and :meth:`Policy.from_security`.
"""

from __future__ import annotations

import ipaddress
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from provisioning import logql
from provisioning import thresholds as config_thresholds
from provisioning.audit import attacks, baselines
from provisioning.audit.findings import SEVERITY_ORDER, TS, Finding, example, record_ns
from provisioning.lokiquery import Entry
from provisioning.securityconfig import SecurityConfig
from provisioning.timerange import NS

LOGIN, PERMISSION_CHANGE, AUTHZ_DENIED = "auth.login", "permission.change", "authz.denied"
EVENTS = (LOGIN, PERMISSION_CHANGE, AUTHZ_DENIED)
LOG_TYPES = ("audit", "security")  # what detection, the report and verify read

_FALSE_WORDS = {"", "false", "no", "none", "null", "0", "off", "revoked", "denied", "disabled"}

@dataclass(frozen=True)
class Thresholds:
    failed_logins_per_ip: int
    failed_logins_window_ns: int
    failures_before_success: int
    impossible_travel_ns: int

    @classmethod
    def from_config(cls, thresholds: config_thresholds.Thresholds) -> Thresholds:
        """The detections' view of tracklog.yaml's ``thresholds`` (checked when tracklog.yaml was loaded)."""
        return cls(thresholds.failed_logins_per_ip, thresholds.ns("failed_logins_window"),
                   thresholds.failures_before_success, thresholds.impossible_travel_ns)


@dataclass(frozen=True)
class Policy:
    allowed_countries: frozenset[str]
    allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    admin_roles: frozenset[str]

    @classmethod
    def from_security(cls, security: SecurityConfig) -> Policy:
        """tracklog.yaml's login policy (``security``); an empty list switches its check off."""
        return cls(frozenset(security.allowed_countries), tuple(security.allowed_networks),
                   frozenset(security.admin_roles))


def records_from(entries: Iterable[Entry]) -> list[dict[str, Any]]:
    """The JSON records among Loki entries, each with ``_ts_ns`` (the entry's time) added; other lines skipped."""
    out = []
    for entry in entries:
        try:
            record = json.loads(entry.line)
        except ValueError:
            continue
        if isinstance(record, dict):
            record[TS] = entry.timestamp_ns
            out.append(record)
    return out


def detect(records: Iterable[Mapping[str, Any]], thresholds: Thresholds, policy: Policy,
           security: SecurityConfig | None = None, history: Iterable[Mapping[str, Any]] = (),
           start_ns: int | None = None) -> list[Finding]:
    """Every finding among ``records`` (any order), most severe first, then oldest first.

    ``security`` holds the populations, which detection applies to whom, and the spread-out attacks'
    thresholds (default: admins by ``security.admin_roles``, everyone else a customer). ``history`` holds the
    successful logins before ``start_ns`` (the period's start) that the per-user baselines compare with."""
    if security is None:
        security = SecurityConfig.from_raw({"security": {"admin_roles": sorted(policy.admin_roles)}})
    ordered = sorted((r for r in records if r.get("event.name") in EVENTS), key=record_ns)
    logins = [r for r in ordered if r.get("event.name") == LOGIN]
    failures = [r for r in logins if r.get("auth.outcome") == "failure"]
    successes = [r for r in logins if r.get("auth.outcome") == "success"]
    spread, explained = attacks.spread_success_after_failures(logins, security.attacks)
    earlier = [r for r in history if r.get("event.name") == LOGIN and r.get("auth.outcome") == "success"]
    first_ns = start_ns if start_ns is not None else (record_ns(logins[0]) if logins else 0)
    findings = (
        brute_force(failures, "client.address", "brute_force_address", thresholds)
        + brute_force(failures, "user.id", "brute_force_account", thresholds)
        + success_after_failures([r for r in logins if id(r) not in explained], thresholds)
        + spread
        + attacks.spread_attacks(logins, security.attacks)
        + disallowed_logins(successes, policy, security)
        + impossible_travel(successes, thresholds, security)
        + baselines.new_for_user(successes, earlier, security, first_ns)
        + admin_grants([r for r in ordered if r.get("event.name") == PERMISSION_CHANGE], policy)
        + admin_access_denied([r for r in ordered if r.get("event.name") == AUTHZ_DENIED], policy)
    )
    return sorted(findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.first_ns, f.kind, f.who))


def brute_force(failures: list[Mapping[str, Any]], key: str, kind: str, thresholds: Thresholds) -> list[Finding]:
    """Runs of >= failed_logins_per_ip failed logins sharing ``key`` within failed_logins_window; overlapping
    windows merge into one finding."""
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for record in failures:
        if record.get(key) not in (None, ""):
            groups[str(record[key])].append(record)
    found = []
    for value, items in groups.items():
        times = [record_ns(r) for r in items]
        runs: list[list[int]] = []  # [first, last] index of merged windows that reach the threshold
        start = 0
        for end in range(len(items)):
            while times[end] - times[start] > thresholds.failed_logins_window_ns:
                start += 1
            if end - start + 1 >= thresholds.failed_logins_per_ip:
                if runs and start <= runs[-1][1]:
                    runs[-1][1] = end
                else:
                    runs.append([start, end])
        for first, last in runs:
            members = items[first:last + 1]
            others = sorted({str(r.get("user.id" if key == "client.address" else "client.address", ""))
                             for r in members} - {""})
            listed = ", ".join(others[:5])
            who, where = (listed, value) if key == "client.address" else (value, listed)
            found.append(Finding(
                kind, "high", times[first], times[last], who, where, len(members),
                f"{len(members)} failed logins {'from' if key == 'client.address' else 'for'} {value} "
                f"(threshold {thresholds.failed_logins_per_ip} within "
                f"{thresholds.failed_logins_window_ns // NS}s; {len(others)} distinct "
                f"{'accounts' if key == 'client.address' else 'addresses'})",
                example(members[-1])))
    return found


def success_after_failures(logins: list[Mapping[str, Any]], thresholds: Thresholds) -> list[Finding]:
    """A successful login of a user right after >= failures_before_success failures of that user (no success
    between them) within failed_logins_window. Critical, unless every failure and the success came from the
    one address and stayed under failed_logins_per_ip: then it looks like the user mistyping (low)."""
    streaks: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    found = []
    for record in logins:
        user = str(record.get("user.id", ""))
        if not user:
            continue
        if record.get("auth.outcome") == "failure":
            streaks[user].append(record)
            continue
        if record.get("auth.outcome") != "success":
            continue
        at = record_ns(record)
        run = [r for r in streaks.pop(user, []) if at - record_ns(r) <= thresholds.failed_logins_window_ns]
        if len(run) >= thresholds.failures_before_success:
            address = str(record.get("client.address", ""))
            failed_from = sorted({str(r.get("client.address", "")) for r in run} - {""})
            typo = failed_from == [address] and len(run) < thresholds.failed_logins_per_ip
            found.append(Finding(
                "success_after_failures", "low" if typo else "critical", record_ns(run[0]), at, user, address,
                len(run) + 1,
                f"login succeeded from {address or 'an unknown address'} after {len(run)} failures "
                f"(threshold {thresholds.failures_before_success}) from {', '.join(failed_from[:5]) or '-'}"
                + (" (the same address: a mistyped password?)" if typo else ""),
                example(record)))
    return found


def _network_allowed(address: str, policy: Policy) -> bool | None:
    """True/False for an address inside/outside security.allowed_networks; None when it is not an IP address."""
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return None
    return any(ip.version == net.version and ip in net for net in policy.allowed_networks)


def disallowed_logins(successes: list[Mapping[str, Any]], policy: Policy,
                      security: SecurityConfig | None = None) -> list[Finding]:
    """Successful logins from a country outside security.allowed_countries or an address outside
    security.allowed_networks, of the populations each check applies to (security.detections; staff and
    admins by default); one finding per user and country/address."""
    security = security or SecurityConfig.from_raw({"security": {"admin_roles": sorted(policy.admin_roles)}})
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for record in successes:
        user = str(record.get("user.id", ""))
        country = str(record.get("client.geo.country_iso_code") or "").upper()
        if policy.allowed_countries and country and country not in policy.allowed_countries \
                and security.applies("login_disallowed_country", record):
            groups[("login_disallowed_country", user, country)].append(record)
        address = str(record.get("client.address") or "")
        if policy.allowed_networks and address and _network_allowed(address, policy) is False \
                and security.applies("login_outside_networks", record):
            groups[("login_outside_networks", user, address)].append(record)
    found = []
    for (kind, user, where), items in groups.items():
        population = security.population_of(items[-1]) or "-"
        if kind == "login_disallowed_country":
            detail = f"successful login from {where}, not in security.allowed_countries (population {population})"
        else:
            detail = f"successful login from {where}, outside security.allowed_networks (population {population})"
        severity = security.scope(kind).severity
        found.append(Finding(kind, severity, record_ns(items[0]), record_ns(items[-1]), user, where, len(items),
                             detail, example(items[-1])))
    return found


def impossible_travel(successes: list[Mapping[str, Any]], thresholds: Thresholds,
                      security: SecurityConfig | None = None) -> list[Finding]:
    """Two consecutive successful logins of one user from different countries less than impossible_travel_hours
    apart; one finding per user and pair of countries."""
    security = security or SecurityConfig()
    successes = [r for r in successes if security.applies("impossible_travel", r)]
    last: dict[str, Mapping[str, Any]] = {}
    groups: dict[tuple[str, str, str], list[tuple[Mapping[str, Any], Mapping[str, Any]]]] = defaultdict(list)
    for record in successes:
        user = str(record.get("user.id", ""))
        country = str(record.get("client.geo.country_iso_code") or "").upper()
        if not user or not country:
            continue
        previous = last.get(user)
        if previous is not None:
            before = str(previous.get("client.geo.country_iso_code")).upper()
            if before != country and record_ns(record) - record_ns(previous) < thresholds.impossible_travel_ns:
                groups[(user, before, country)].append((previous, record))
        last[user] = record
    found = []
    hours = thresholds.impossible_travel_ns / (3600 * NS)
    for (user, before, country), pairs in groups.items():
        gap_s = min(record_ns(b) - record_ns(a) for a, b in pairs) / NS
        addresses = f"{pairs[-1][0].get('client.address', '-')} -> {pairs[-1][1].get('client.address', '-')}"
        found.append(Finding(
            "impossible_travel", security.scope("impossible_travel").severity, record_ns(pairs[0][0]),
            record_ns(pairs[-1][1]), user,
            f"{before} -> {country} ({addresses})", len(pairs),
            f"logged in from {before} then {country} {gap_s:.0f}s apart (under {hours:g}h)", example(pairs[-1][1])))
    return found


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_WORDS
    if isinstance(value, list | tuple | set | dict):
        return bool(value)
    return bool(value)


def _roles(value: Any) -> set[str]:
    """The role names a before/after value mentions: a string (also comma separated), a list, or a dict's keys
    with truthy values."""
    if isinstance(value, str):
        return {part.strip() for part in value.split(",") if part.strip()}
    if isinstance(value, list | tuple | set):
        return {str(v) for v in value}
    if isinstance(value, dict):
        return {str(k) for k, v in value.items() if _truthy(v)}
    return set()


def granted_admin_roles(record: Mapping[str, Any], policy: Policy) -> set[str]:
    """The admin roles a permission.change grants: named in ``audit.after`` and not in ``audit.before``; or the
    changed ``auth.role`` is an admin role switched from off (false, none, revoked...) to on."""
    before, after = record.get("audit.before"), record.get("audit.after")
    granted = (_roles(after) - _roles(before)) & policy.admin_roles
    role = str(record.get("auth.role", ""))
    if role in policy.admin_roles and _truthy(after) and not _truthy(before):
        granted.add(role)
    return granted


def admin_grants(changes: list[Mapping[str, Any]], policy: Policy) -> list[Finding]:
    """Each permission.change that grants a role in security.admin_roles."""
    found = []
    for record in changes:
        granted = granted_admin_roles(record, policy)
        if not granted:
            continue
        actor, target = str(record.get("audit.actor", "")), str(record.get("audit.target", ""))
        before, after = record.get("audit.before"), record.get("audit.after")
        found.append(Finding(
            "admin_grant", "high", record_ns(record), record_ns(record), f"{actor} -> {target}",
            str(record.get("service", "")), 1,
            f"{actor} granted {', '.join(sorted(granted))} to {target} ({record.get('auth.role', '')}: "
            f"{json.dumps(before, default=str)} -> {json.dumps(after, default=str)})", example(record)))
    return found


def is_admin_endpoint(record: Mapping[str, Any], policy: Policy) -> bool:
    path = str(record.get("url.path", ""))
    return str(record.get("auth.role", "")) in policy.admin_roles or "/admin" in path.lower()


def admin_access_denied(denials: list[Mapping[str, Any]], policy: Policy) -> list[Finding]:
    """authz.denied records of admin endpoints (the required role is an admin role, or the path has /admin):
    one finding per user and path."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for record in denials:
        if is_admin_endpoint(record, policy):
            groups[(str(record.get("user.id", "")), str(record.get("url.path", "")))].append(record)
    found = []
    for (user, path), items in groups.items():
        addresses = sorted({str(r.get("client.address", "")) for r in items} - {""})
        roles = sorted({str(r.get("auth.role", "")) for r in items} - {""})
        found.append(Finding(
            "admin_access_denied", "medium", record_ns(items[0]), record_ns(items[-1]), user,
            ", ".join(addresses[:5]), len(items),
            f"denied {len(items)}x access to {path} (needs {', '.join(roles) or 'an admin role'})",
            example(items[-1])))
    return found


def selector(env: str | None = None, line_filter: bool = True) -> str:
    """The LogQL for the security and audit records (of one env) that detection reads."""
    query = logql.selector(log_type=list(LOG_TYPES), env=[env] if env else None)
    if line_filter:
        query += " |~ `" + "|".join(e.replace(".", "\\.") for e in EVENTS) + "`"
    return query


def success_selector(env: str | None = None) -> str:
    """The LogQL for the successful logins (of one env) that the per-user baselines compare with."""
    return selector(env, line_filter=False).replace('log_type=~"audit|security"', 'log_type="security"') \
        + ' |= `auth.login` |~ `"auth\\.outcome": ?"success"`'
