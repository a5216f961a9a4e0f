"""Log types and their retention: tracklog.yaml's `log_types:` section and the Loki retention rules it implies,
with the checks that keep those rules unambiguous (no two of equal priority may match one stream)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from provisioning.logql import quote
from provisioning.selector import parse as parse_selector
from provisioning.timerange import NS, parse_duration
from provisioning.yamlreader import LineDict, Reader

LOG_TYPES = ("application", "system", "audit", "security")


@dataclass(frozen=True)
class LogType:
    name: str
    retention: str
    retention_seconds: int


# Priorities of the rules tracklog.yaml implies; Loki applies the highest-priority rule that matches a stream.
PRIORITY_LOG_TYPE = 1
PRIORITY_SERVICE = 2


@dataclass(frozen=True)
class RetentionRule:
    """One Loki ``retention_stream`` rule: streams matching every matcher are kept ``retention``.

    ``matchers`` are (label, op, value) with op one of ``=``, ``!=``, ``=~``, ``!~``; the first is always
    ``log_type``. ``where`` and ``line`` name the rule's place in tracklog.yaml.
    """

    log_type: str
    matchers: tuple[tuple[str, str, str], ...]
    retention: str
    retention_seconds: int
    priority: int
    where: str
    line: int

    @property
    def selector(self) -> str:
        """The LogQL stream selector Loki reads: ``{log_type="application", service="auth"}``."""
        return "{" + ", ".join(f"{name}{op}{quote(value)}" for name, op, value in self.matchers) + "}"


def read_log_types(r: Reader, raw: LineDict,
               known_services: set[str]) -> tuple[dict[str, LogType], tuple[RetentionRule, ...]]:
    """Each log type's retention, and the Loki retention rules it implies: one per log type (priority 1), one per
    service listed under it (priority 2, so it wins), and any ``streams`` rules with their own priorities."""
    log_types: dict[str, LogType] = {}
    rules: list[RetentionRule] = []
    raw_types = r.mapping(raw, "log_types", "log_types")
    for name in raw_types:
        if name not in LOG_TYPES:
            r.problem(raw_types, name, f"log_types.{name}", f"unknown log type; the four are {', '.join(LOG_TYPES)}")
    for name in LOG_TYPES:
        where = f"log_types.{name}"
        entry = r.mapping(raw_types, name, where)
        _known_keys(r, entry, where, ("retention", "services", "streams"))
        retention, seconds = _retention(r, entry, "retention", where + ".retention", "30d")
        log_types[name] = LogType(name=name, retention=retention, retention_seconds=seconds)
        base = ("log_type", "=", name)
        rules.append(RetentionRule(name, (base,), retention, seconds, PRIORITY_LOG_TYPE, where + ".retention",
                                   r.line_of(entry, "retention")))

        services = r.mapping(entry, "services", where + ".services")
        for service in services:
            here = f"{where}.services.{service}"
            if service not in known_services:
                r.problem(services, service, here,
                          f"unknown service; tracklog.yaml names {', '.join(sorted(known_services))}")
            if isinstance(services[service], dict | list):
                r.problem(services, service, here, "give the retention itself, e.g. auth: 90d (for your own selectors "
                                                   "and priorities, use streams)")
                continue
            retention, seconds = _retention(r, services, service, here, "")
            rules.append(RetentionRule(name, (base, ("service", "=", str(service))), retention, seconds,
                                       PRIORITY_SERVICE, here, r.line_of(services, service)))

        streams = entry.get("streams") or []
        if not isinstance(streams, list):
            r.problem(entry, "streams", where + ".streams", "must be a list of {selector, priority, retention}")
            streams = []
        for i, item in enumerate(streams):
            here = f"{where}.streams[{i}]"
            if not isinstance(item, dict):
                r.problem(entry, "streams", here, "must be a mapping {selector, priority, retention}")
                continue
            _known_keys(r, item, here, ("selector", "priority", "retention"))
            matchers = _selector(r, item, here + ".selector")
            priority = item.get("priority")
            if isinstance(priority, bool) or not isinstance(priority, int) or priority < 1:
                r.problem(item, "priority", here + ".priority",
                          f"needs a whole number of 1 or more (the log type's rule has {PRIORITY_LOG_TYPE}, each "
                          f"service's {PRIORITY_SERVICE}; the highest matching priority wins), got {priority!r}")
                priority = 0
            retention, seconds = _retention(r, item, "retention", here + ".retention", "")
            if matchers is not None and priority:
                rules.append(RetentionRule(name, (base, *matchers), retention, seconds, priority, here, item.line))
    _check_overlaps(r, rules)
    return log_types, tuple(rules)


def _known_keys(r: Reader, node: LineDict, where: str, known: tuple[str, ...]) -> None:
    for key in node:
        if key not in known:
            r.problem(node, key, f"{where}.{key}", f"unknown key; known: {', '.join(known)}")


def _retention(r: Reader, node: LineDict, key: str, where: str, default: str) -> tuple[str, int]:
    text = r.string(node, key, where, default)
    try:
        seconds = parse_duration(text, retention=True) // NS
    except ValueError as exc:
        r.problem(node, key, where, str(exc) if text else "needs a retention like 30d")
        return text, 0
    if seconds < 86400:
        r.problem(node, key, where, f"{text} is under 24h, the shortest retention Loki applies")
    return text, seconds


def _selector(r: Reader, item: LineDict, where: str) -> tuple[tuple[str, str, str], ...] | None:
    """The matchers of a stream selector such as ``{level="debug", env=~"dev|test"}``, or None after a problem."""
    try:
        parsed = parse_selector(r.string(item, "selector", where))
    except ValueError as exc:
        r.problem(item, "selector", where, str(exc))
        return None
    if any(m.name == "log_type" for m in parsed.matchers):
        r.problem(item, "selector", where, "leave log_type out: the rule's place under log_types names it")
        return None
    return tuple((m.name, m.op, m.value) for m in parsed.matchers)


def _check_overlaps(r: Reader, rules: list[RetentionRule]) -> None:
    """Two rules of equal priority that can match one stream are refused: Loki would quietly keep the shorter."""
    for i, first in enumerate(rules):
        for second in rules[i + 1:]:
            if first.priority == second.priority and _may_overlap(first.matchers, second.matchers):
                r.problem_at(second.line, second.where,
                             f"can match the same streams as {first.where} ({r.place(first.line)}) with the same "
                             f"priority {first.priority}, and Loki would then keep the shorter retention of the two; "
                             f"give one a higher priority or make the selectors exclusive")


def _may_overlap(first: tuple[tuple[str, str, str], ...], second: tuple[tuple[str, str, str], ...]) -> bool:
    """False only when some label's matchers provably exclude each other; regex against regex counts as overlapping."""
    for name, op, value in first:
        for other_name, other_op, other_value in second:
            if name == other_name and (_excludes(op, value, other_op, other_value)
                                       or _excludes(other_op, other_value, op, value)):
                return False
    return True


def _excludes(op: str, value: str, other_op: str, other: str) -> bool:
    """Whether ``label op value`` and ``label other_op other`` cannot both hold (Loki anchors regexes)."""
    if op != "=":
        return False
    if other_op in ("=", "!="):
        return (value != other) if other_op == "=" else (value == other)
    try:
        matches = re.fullmatch(other, value) is not None
    except re.error:
        return False
    return not matches if other_op == "=~" else matches


@dataclass(frozen=True)
class ArchiveConfig:
    """``archive:``: how far behind now archive runs end, and which log types are archived."""

    lag: str = ""  # empty: no lag, `tracklog archive --before` defaults to now
    lag_seconds: int = 0
    log_types: tuple[str, ...] = ()


def read_archive(r: Any, raw: Any, rules: tuple[RetentionRule, ...]) -> ArchiveConfig:
    """``archive: {lag, log_types}``; refuses a retention of an archived log type that is not longer than the lag."""
    if raw.get("archive") is None:
        return ArchiveConfig()
    node = r.mapping(raw, "archive", "archive")
    _known_keys(r, node, "archive", ("lag", "log_types"))
    lag = r.string(node, "lag", "archive.lag")
    lag_seconds = 0
    if lag:
        try:
            lag_seconds = parse_duration(lag) // NS
        except ValueError as exc:
            r.problem(node, "lag", "archive.lag", str(exc))
    archived = node.get("log_types", list(LOG_TYPES))
    if not isinstance(archived, list):
        r.problem(node, "log_types", "archive.log_types", f"must be a list of log types ({', '.join(LOG_TYPES)})")
        archived = []
    for name in archived:
        if name not in LOG_TYPES:
            r.problem(node, "log_types", "archive.log_types",
                      f"unknown log type {name!r}; the four are {', '.join(LOG_TYPES)}")
    archived = tuple(str(name) for name in archived if name in LOG_TYPES)
    if lag_seconds:
        lag_place = r.place(r.line_of(node, "lag"))
        for rule in rules:
            if rule.log_type in archived and 0 < rule.retention_seconds <= lag_seconds:
                r.problem_at(rule.line, rule.where,
                             f"{rule.retention} is not longer than archive.lag ({lag}, {lag_place}): {rule.log_type} "
                             f"is archived, and its data would expire before it is archived")
    return ArchiveConfig(lag=lag, lag_seconds=lag_seconds, log_types=archived)
