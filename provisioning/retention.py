"""Retention: the Loki runtime overrides tracklog.yaml's log_types imply, and what the running Loki applies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import requests
import yaml

from provisioning.config import Config
from provisioning.errors import TracklogError
from provisioning.stacktarget import LOKI_TENANT

PER_STREAM_SINCE = (2, 3)  # Loki's compactor applies per-stream retention from 2.3 on


class RetentionError(TracklogError):
    """Loki could not be asked about its retention; the message names the URL."""


@dataclass(frozen=True)
class TypeRetention:
    log_type: str
    configured: str
    applied: str


@dataclass(frozen=True)
class StreamRule:
    selector: str
    priority: int
    period: str
    where: str  # its place in tracklog.yaml, e.g. log_types.audit.services.auth


@dataclass(frozen=True)
class RetentionStatus:
    loki_url: str
    loki_version: str
    per_stream: bool
    global_retention: str
    types: tuple[TypeRetention, ...]
    rules: tuple[StreamRule, ...] = ()

    def lines(self) -> list[str]:
        out = [f"Loki {self.loki_version} at {self.loki_url}: "
               + ("per-stream retention supported" if self.per_stream else
                  f"no per-stream retention (needs Loki {'.'.join(map(str, PER_STREAM_SINCE))} or later)"),
               f"global retention (table manager / compactor): {self.global_retention}",
               f"{'log type':<12} {'tracklog.yaml':<14} applied by Loki"]
        out += [f"{t.log_type:<12} {t.configured:<14} {t.applied}" for t in self.types]
        out += ["retention_stream rules (`tracklog retention render`; the highest matching priority wins):",
                f"{'priority':<9} {'period':<8} selector"]
        out += [f"{r.priority:<9} {r.period:<8} {r.selector}" for r in self.rules]
        return out


def loki_duration(seconds: int) -> str:
    """A retention period as Loki writes durations: hours when whole (``720h``), else minutes or seconds."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def stream_rules(config: Config) -> tuple[StreamRule, ...]:
    """tracklog.yaml's retention rules as Loki's retention_stream entries, in the order tracklog.yaml gives them."""
    return tuple(StreamRule(rule.selector, rule.priority, loki_duration(rule.retention_seconds), rule.where)
                 for rule in config.retention_rules)


def overrides(config: Config) -> dict[str, Any]:
    """Loki's runtime overrides (``runtime_config.file``) holding one retention_stream rule per tracklog.yaml rule.

    A per-service rule has a higher priority than its log type's, so it wins for that service's streams. With
    ``endpoints.loki.tenants`` each tenant gets the rules of the log types it holds. Streams with no ``log_type``
    label keep the tenant's or Loki's global ``retention_period``, which this leaves alone.
    """
    loki = config.endpoints.loki
    by_tenant: dict[str, list[dict[str, Any]]] = {}
    for rule, stream in zip(config.retention_rules, stream_rules(config), strict=True):
        tenant = loki.tenant_for(rule.log_type) or LOKI_TENANT  # each log type's rules go to the tenant holding it
        by_tenant.setdefault(tenant, []).append(
            {"selector": stream.selector, "priority": stream.priority, "period": stream.period})
    return {"overrides": {tenant: {"retention_stream": rules} for tenant, rules in by_tenant.items()}}


def render_overrides(config: Config) -> str:
    """The runtime overrides file as YAML text, with a header saying where it comes from and what applies it."""
    header = ("# Loki runtime overrides: per-stream retention rendered from tracklog.yaml's log_types\n"
              "# (`tracklog retention render`). Applied by Loki 2.3 or later with compactor.retention_enabled: true;\n"
              "# Loki 2.2 refuses these keys. The highest-priority rule matching a stream wins.\n")
    return header + yaml.safe_dump(overrides(config), sort_keys=False, width=120)


def status(config: Config, timeout: float = 10.0) -> RetentionStatus:
    """Read Loki's version and effective config and compare them with tracklog.yaml's log_types."""
    url = config.endpoints.loki.url
    try:
        build = requests.get(f"{url}/loki/api/v1/status/buildinfo", timeout=timeout)
        effective = requests.get(f"{url}/config", timeout=timeout)
    except requests.RequestException as exc:
        raise RetentionError(f"Loki at {url} is unreachable ({type(exc).__name__}); is it running?") from exc
    if effective.status_code != 200:
        raise RetentionError(f"Loki at {url} answered {effective.status_code} on /config")
    version = build.json().get("version", "?") if build.status_code == 200 else _version_from_metrics(url, timeout)
    loaded = yaml.safe_load(effective.text) or {}
    per_stream = _version(version) >= PER_STREAM_SINCE
    table = loaded.get("table_manager") or {}
    compactor = loaded.get("compactor") or {}
    limits = loaded.get("limits_config") or {}
    if compactor.get("retention_enabled"):
        global_retention = f"compactor, {limits.get('retention_period', '0s')}"
    elif table.get("retention_deletes_enabled"):
        global_retention = f"table manager, {table.get('retention_period', '0s')} (whole index periods)"
    else:
        global_retention = "off (Loki keeps everything)"
    types = tuple(
        TypeRetention(name, lt.retention, _applied(per_stream, global_retention))
        for name, lt in config.log_types.items()
    )
    return RetentionStatus(url, version, per_stream, global_retention, types, stream_rules(config))


def _version_from_metrics(url: str, timeout: float) -> str:
    """Loki before 2.3 has no buildinfo API; its /metrics carries loki_build_info{version=...}."""
    try:
        text = requests.get(f"{url}/metrics", timeout=timeout).text
    except requests.RequestException:
        return "?"
    match = re.search(r'^loki_build_info\{[^}]*version="([^"]+)"', text, re.M)
    return match.group(1) if match else "?"


def _applied(per_stream: bool, global_retention: str) -> str:
    if per_stream:
        return "see Loki's runtime overrides (retention_stream)"
    return f"not per type; {global_retention}"


def _version(text: str) -> tuple[int, int]:
    try:
        major, minor = text.lstrip("v").split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return (0, 0)


def check(config: Config) -> None:
    """Raise if Loki is known not to apply what tracklog.yaml asks (used by `retention status --strict`)."""
    current = status(config)
    if not current.per_stream:
        raise RetentionError("; ".join(current.lines()[:2]))
