"""tracklog.yaml's ``security:``: the login policy (allowed countries and networks, admin roles), the account
populations, detection scopes and spread-out-attack thresholds.

Read by :func:`read_security` into frozen dataclasses when tracklog.yaml is loaded, every problem with file:line.
``audit detect`` reads them, and the alert rules get the same values (provisioning/jsonnetconfig.py, read by
alerts/security.libsonnet and alerts/attacks.libsonnet), so both page on the same thresholds.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provisioning.errors import ConfigError
from provisioning.timerange import NS, TimeRangeError, parse_duration
from provisioning.yamlreader import Reader as _Reader

ALL = "all"
SEVERITIES = ("critical", "high", "medium", "low")
DEFAULT_ROLE_FIELD = "user.roles"


@dataclass(frozen=True)
class Population:
    """Accounts told apart by role (``role_field`` of the login record), full-match user-id patterns, or a list
    of user ids / names. A population with none of the three is everyone not matched before it."""

    name: str
    roles: tuple[str, ...] = ()  # as tracklog.yaml lists them (the alert rules' regex keeps that order)
    user_ids: tuple[re.Pattern[str], ...] = ()
    users: tuple[str, ...] = ()

    @property
    def catch_all(self) -> bool:
        return not (self.roles or self.user_ids or self.users)

    def matches(self, record: Mapping[str, Any], role_field: str) -> bool:
        if self.catch_all:
            return True
        if self.roles and roles_of(record.get(role_field)) & set(self.roles):
            return True
        user = str(record.get("user.id") or "")
        if user and any(p.fullmatch(user) for p in self.user_ids):
            return True
        return bool(self.users) and bool({user, str(record.get("user.name") or "")} & set(self.users))


def roles_of(value: Any) -> set[str]:
    """The roles a role field holds: a string (also comma separated) or a list."""
    if isinstance(value, str):
        return {part.strip() for part in value.split(",") if part.strip()}
    if isinstance(value, list | tuple | set):
        return {str(v) for v in value}
    return set()


@dataclass(frozen=True)
class Scope:
    """Which populations one detection applies to, how severe its findings are, and (for per-user baselines)
    how far back a user's own history is read."""

    populations: frozenset[str]
    severity: str
    lookback_ns: int = 0


@dataclass(frozen=True)
class Attacks:
    """Thresholds of the spread-out attacks, each counted within ``window_ns``."""

    window: str = "10m"  # as tracklog.yaml writes it (the alert rules' range)
    window_ns: int = 10 * 60 * NS
    stuffing_accounts: int = 20
    stuffing_addresses: int = 20
    stuffing_unknown_share: float = 0.25
    spraying_accounts: int = 20
    spraying_addresses: int = 10
    spraying_attempts_per_account: int = 3
    surge_baseline: str = "6h"
    surge_baseline_ns: int = 6 * 3600 * NS
    surge_factor: float = 3.0
    surge_failures: int = 30
    surge_ratio: float = 0.3
    spread_success_addresses: int = 3


# kind -> (default populations, default severity, default look-back)
DEFAULT_SCOPES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "login_outside_networks": (("admins", "staff"), "medium", ""),
    "login_disallowed_country": (("admins", "staff"), "high", ""),
    "impossible_travel": ((ALL,), "high", ""),
    "new_country": ((ALL,), "low", "30d"),
    "new_network": (("admins", "staff"), "medium", "30d"),
    "new_user_agent": (("admins",), "medium", "30d"),
}
_ATTACK_KEYS: dict[str, dict[str, tuple[str, type]]] = {
    "credential_stuffing": {"accounts": ("stuffing_accounts", int), "addresses": ("stuffing_addresses", int),
                            "unknown_user_share": ("stuffing_unknown_share", float)},
    "password_spraying": {"accounts": ("spraying_accounts", int), "addresses": ("spraying_addresses", int),
                          "attempts_per_account": ("spraying_attempts_per_account", int)},
    "failure_surge": {"factor": ("surge_factor", float), "failures": ("surge_failures", int),
                      "ratio": ("surge_ratio", float)},
    "spread_success_after_failures": {"addresses": ("spread_success_addresses", int)},
}


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_ALLOWED_COUNTRIES = ("DE", "AT", "CH", "NL", "FR")  # dashboards/lib/config.libsonnet's defaults
DEFAULT_ALLOWED_NETWORKS = ("10.0.0.0/8", "192.168.0.0/16", "203.0.113.0/24")
DEFAULT_ADMIN_ROLES = ("admin", "superuser")


@dataclass(frozen=True)
class SecurityConfig:
    role_field: str = DEFAULT_ROLE_FIELD
    populations: tuple[Population, ...] = ()
    scopes: dict[str, Scope] = field(default_factory=dict)
    attacks: Attacks = field(default_factory=Attacks)
    # ISO 3166 alpha-2 codes logins are expected from; networks clients are expected in; roles whose every
    # permission change is worth a finding. An empty list switches its check off.
    allowed_countries: tuple[str, ...] = DEFAULT_ALLOWED_COUNTRIES
    allowed_networks: tuple[Network, ...] = tuple(ipaddress.ip_network(n) for n in DEFAULT_ALLOWED_NETWORKS)
    admin_roles: tuple[str, ...] = DEFAULT_ADMIN_ROLES

    def population_of(self, record: Mapping[str, Any]) -> str:
        """The name of the first population the login record's account belongs to ('' when none)."""
        return next((p.name for p in self.populations if p.matches(record, self.role_field)), "")

    def applies(self, kind: str, record: Mapping[str, Any]) -> bool:
        """Whether detection ``kind`` looks at this record's account."""
        scope = self.scope(kind)
        return ALL in scope.populations or self.population_of(record) in scope.populations

    def scope(self, kind: str) -> Scope:
        if kind in self.scopes:
            return self.scopes[kind]
        populations, severity, lookback = DEFAULT_SCOPES[kind]
        return Scope(frozenset(populations), severity, parse_duration(lookback) if lookback else 0)

    @property
    def lookback_ns(self) -> int:
        """The longest look-back of a per-user baseline."""
        return max((self.scope(k).lookback_ns for k in DEFAULT_SCOPES), default=0)

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any], path: str | Path = "tracklog.yaml") -> SecurityConfig:
        """Read ``security`` of a parsed tracklog.yaml document; ConfigError names every problem with file:line."""
        r = _Reader(Path(path))
        found = read_security(r, raw)
        if r.problems:
            raise ConfigError(r.problems)
        return found


def read_security(r: _Reader, raw: Mapping[str, Any]) -> SecurityConfig:
    """The ``security`` section, its problems going to ``r`` (config.load collects them with every other's)."""
    section = r.mapping(raw, "security", "security")
    role_field = r.string(section, "role_field", "security.role_field", DEFAULT_ROLE_FIELD)
    admin_roles = _strings(r, section, "admin_roles", "security") if "admin_roles" in section \
        else list(DEFAULT_ADMIN_ROLES)
    populations = _populations(r, section, admin_roles)
    names = {p.name for p in populations}
    scopes = _scopes(r, section, names)
    attacks = _attacks(r, section)
    countries = _strings(r, section, "allowed_countries", "security") if "allowed_countries" in section \
        else list(DEFAULT_ALLOWED_COUNTRIES)
    for code in countries:
        if not re.fullmatch(r"[A-Za-z]{2}", code):
            r.problem(section, "allowed_countries", "security.allowed_countries",
                      f"{code!r} is not an ISO 3166 alpha-2 code like DE")
    networks = []
    texts = _strings(r, section, "allowed_networks", "security") if "allowed_networks" in section \
        else list(DEFAULT_ALLOWED_NETWORKS)
    for text in texts:
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            r.problem(section, "allowed_networks", "security.allowed_networks",
                      f"{text!r} is not a network like 10.0.0.0/8")
    for key in section:
        if key not in _SECTION_KEYS:
            r.problem(section, key, f"security.{key}", f"unknown key; known: {', '.join(_SECTION_KEYS)}")
    return SecurityConfig(role_field, populations, scopes, attacks, tuple(c.upper() for c in countries),
                          tuple(networks), tuple(admin_roles))


_SECTION_KEYS = ("allowed_countries", "allowed_networks", "admin_roles", "role_field", "populations", "detections",
                 "attacks")


def _strings(r: _Reader, node: Any, key: str, where: str) -> list[str]:
    value = node.get(key) if isinstance(node, Mapping) else None
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        r.problem(node, key, f"{where}.{key}", f"must be a list of strings, got {value!r}")
        return []
    return [str(v) for v in value]


def _populations(r: _Reader, section: Any, admin_roles: list[str]) -> tuple[Population, ...]:
    items = section.get("populations") if isinstance(section, Mapping) else None
    if items is None:  # not configured: admins by security.admin_roles, everyone else a customer
        return (Population("admins", tuple(admin_roles)), Population("customers"))
    if not isinstance(items, list) or not items:
        r.problem(section, "populations", "security.populations", "must be a non-empty list of {name, ...}")
        return ()
    out: list[Population] = []
    for i, item in enumerate(items):
        where = f"security.populations[{i}]"
        if not isinstance(item, Mapping):
            r.problem(section, "populations", where, f"must be a mapping with a name, got {item!r}")
            continue
        name = r.string(item, "name", where)
        if not name or name == ALL:
            r.problem(item, "name", where, f"needs a name (not {ALL!r})")
            continue
        if name in {p.name for p in out}:
            r.problem(item, "name", where, f"population {name!r} is defined twice")
        for key in item:
            if key not in ("name", "roles", "user_ids", "users"):
                r.problem(item, key, where, f"unknown key {key!r} (name, roles, user_ids, users)")
        patterns = []
        for text in _strings(r, item, "user_ids", where):
            try:
                patterns.append(re.compile(text))
            except re.error as exc:
                r.problem(item, "user_ids", f"{where}.user_ids", f"{text!r} is not a regex: {exc}")
        population = Population(name, tuple(_strings(r, item, "roles", where)), tuple(patterns),
                                tuple(_strings(r, item, "users", where)))
        if out and out[-1].catch_all:
            r.problem(item, "name", where, f"follows {out[-1].name!r}, which has no rule and takes everyone")
        out.append(population)
    return tuple(out)


def _scopes(r: _Reader, section: Any, names: set[str]) -> dict[str, Scope]:
    node = r.mapping(section, "detections", "security.detections")
    scopes: dict[str, Scope] = {}
    for kind, item in node.items():
        where = f"security.detections.{kind}"
        if kind not in DEFAULT_SCOPES:
            r.problem(node, kind, where, f"unknown detection (one of {', '.join(DEFAULT_SCOPES)})")
            continue
        if not isinstance(item, Mapping):
            r.problem(node, kind, where, "must be a mapping like {populations: [admins, staff]}")
            continue
        default_populations, default_severity, default_lookback = DEFAULT_SCOPES[kind]
        populations = _strings(r, item, "populations", where) or list(default_populations)
        for name in populations:
            if name != ALL and name not in names:
                r.problem(item, "populations", where, f"no population named {name!r} "
                          f"(security.populations: {', '.join(sorted(names))}; or {ALL!r})")
        severity = r.string(item, "severity", where, default_severity)
        if severity not in SEVERITIES:
            r.problem(item, "severity", where, f"must be one of {', '.join(SEVERITIES)}, got {severity!r}")
        lookback = r.string(item, "lookback", where, default_lookback)
        lookback_ns = 0
        if lookback and default_lookback:
            lookback_ns = _duration(r, item, "lookback", where, lookback)
        elif lookback:
            r.problem(item, "lookback", where, "only the per-user baselines (new_*) have a look-back")
        scopes[kind] = Scope(frozenset(populations), severity, lookback_ns)
    return scopes


def _duration(r: _Reader, node: Any, key: str, where: str, text: str) -> int:
    try:
        value = parse_duration(text)
    except TimeRangeError as exc:
        r.problem(node, key, f"{where}.{key}", str(exc))
        return 0
    if value <= 0:
        r.problem(node, key, f"{where}.{key}", f"must be positive, got {text!r}")
    return value


def _attacks(r: _Reader, section: Any) -> Attacks:
    node = r.mapping(section, "attacks", "security.attacks")
    values: dict[str, Any] = {}
    if "window" in node:
        values["window"] = str(node["window"])
        values["window_ns"] = _duration(r, node, "window", "security.attacks", str(node["window"]))
    for kind, item in node.items():
        if kind == "window":
            continue
        where = f"security.attacks.{kind}"
        if kind not in _ATTACK_KEYS:
            r.problem(node, kind, where, f"unknown attack (window, {', '.join(_ATTACK_KEYS)})")
            continue
        if not isinstance(item, Mapping):
            r.problem(node, kind, where, "must be a mapping of thresholds")
            continue
        for key, value in item.items():
            if kind == "failure_surge" and key == "baseline":
                values["surge_baseline"] = str(value)
                values["surge_baseline_ns"] = _duration(r, item, key, where, str(value))
                continue
            if key not in _ATTACK_KEYS[kind]:
                known = ", ".join([*_ATTACK_KEYS[kind], *(["baseline"] if kind == "failure_surge" else [])])
                r.problem(item, key, f"{where}.{key}", f"unknown threshold ({known})")
                continue
            name, kind_of = _ATTACK_KEYS[kind][key]
            values[name] = _positive(r, item, key, f"{where}.{key}", value, kind_of)
            if key in ("unknown_user_share", "ratio") and values[name] > 1:
                r.problem(item, key, f"{where}.{key}", f"is a share between 0 and 1, got {value!r}")
    attacks = Attacks(**values)
    if attacks.window_ns and attacks.surge_baseline_ns <= attacks.window_ns:
        r.problem(node, "failure_surge", "security.attacks.failure_surge.baseline", "must be longer than window")
    return attacks


def _positive(r: _Reader, node: Any, key: str, where: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        r.problem(node, key, where, f"must be a positive number, got {value!r}")
        return kind(1)
    if kind is int and value != int(value):
        r.problem(node, key, where, f"must be a whole number, got {value!r}")
    return kind(value)

