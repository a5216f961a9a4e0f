"""Load tracklog.yaml once into frozen dataclasses, reporting every problem with its file and line."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from exporters.agent.settings import AgentSource
from provisioning.endpoints import (  # re-exported: the loaded config's parts
    LOCAL_S3_CREDENTIALS,
    Endpoints,
    GrafanaEndpoint,
    LokiEndpoint,
    S3Endpoint,
    read_endpoints,
)
from provisioning.errors import ConfigError
from provisioning.notifications import (
    GrafanaSettings,
    Notifications,
    SmtpSettings,
    read_grafana,
    read_notifications,
    read_smtp,
)
from provisioning.retentionrules import (  # re-exported: the loaded config's parts
    LOG_TYPES,
    PRIORITY_LOG_TYPE,
    PRIORITY_SERVICE,
    ArchiveConfig,
    LogType,
    RetentionRule,
    read_archive,
    read_log_types,
)
from provisioning.securityconfig import SecurityConfig, read_security
from provisioning.thresholds import Thresholds, read_thresholds
from provisioning.yamlreader import LineDict as _LineDict
from provisioning.yamlreader import LineLoader as _LineLoader
from provisioning.yamlreader import Reader as _Reader
from provisioning.yamlreader import key_lines, override

DEFAULT_PATH = "tracklog.yaml"
__all__ = ["LOCAL_S3_CREDENTIALS", "LOG_TYPES", "PRIORITY_LOG_TYPE", "PRIORITY_SERVICE", "Config", "ConfigError",
           "Endpoints", "GrafanaEndpoint", "LogType", "LokiEndpoint", "RetentionRule", "S3Endpoint", "load"]


@dataclass(frozen=True)
class Service:
    name: str
    team: str = ""


@dataclass(frozen=True)
class StackConfig:
    state_dir: Path
    ports: dict[str, int]


@dataclass(frozen=True)
class AgentConfig:
    positions_file: Path
    sources: tuple[AgentSource, ...] = ()


@dataclass(frozen=True)
class Config:
    path: Path
    project: str
    env: str
    endpoints: Endpoints
    services: tuple[Service, ...]
    log_types: dict[str, LogType]
    stack: StackConfig
    agent: AgentConfig
    retention_rules: tuple[RetentionRule, ...] = ()
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)
    notifications: Notifications = field(default_factory=Notifications)
    grafana: GrafanaSettings = field(default_factory=GrafanaSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    thresholds: Thresholds = field(default_factory=Thresholds)
    redaction: dict[str, Any] = field(default_factory=dict)  # exporters.redact.Redactor's keyword arguments
    # Top-level camelCase keys: knobs only the Jsonnet library reads (dashboards/lib/config.libsonnet names and
    # types them; tracklog.jsonnet refuses one it does not know).
    jsonnet_knobs: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)  # dotted key -> its line

    @property
    def root(self) -> Path:
        """The directory of tracklog.yaml; relative paths in it are relative to this."""
        return self.path.parent

    def line_of(self, key: str) -> int:
        """The line of tracklog.yaml holding ``key`` (dotted: ``thresholds.api_error_rate_percent``), 0 if absent."""
        return self.lines.get(key, 0)


# The sections of tracklog.yaml; any other top-level key is a problem, except camelCase Jsonnet knobs.
SECTIONS = ("project", "env", "endpoints", "services", "log_types", "archive", "stack", "agent", "thresholds",
            "security", "redaction", "grafana", "smtp", "contact_points", "notification_policies", "mute_timings")
_KNOB = re.compile(r"[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+")


DEFAULT_PORTS = {
    "s3": 9000,
    "loki": 3100,
    "loki_grpc": 9095,
    "prometheus": 9090,
    "alertmanager": 9093,
    "alertmanager_webhook": 9099,
}


def load(path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Load and check tracklog.yaml.

    Args:
        path: the file; defaults to ``$TRACKLOG_CONFIG`` or ``./tracklog.yaml``.
        overrides: dotted keys of the file and the values they get for this load only (the file is not touched;
            ``tracklog review alerts --set``). Each key must exist in the file.

    Raises:
        ConfigError: listing every problem found, each with file:line.
    """
    config_path = Path(path or os.environ.get("TRACKLOG_CONFIG") or DEFAULT_PATH).resolve()
    try:
        text = config_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{config_path}: cannot read: {exc.strerror}"]) from exc
    try:
        raw = yaml.load(text, Loader=_LineLoader) or _LineDict()  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError([f"{config_path}{line}: not valid YAML: {exc}"]) from exc
    if not isinstance(raw, dict):
        raise ConfigError([f"{config_path}:1: the top level must be a mapping"])
    for key, value in (overrides or {}).items():
        override(config_path, raw, key, value)
    return _build(config_path, raw)


def _build(path: Path, raw: _LineDict) -> Config:
    r = _Reader(path)
    root = path.parent

    endpoints = read_endpoints(r, raw)

    services: list[Service] = []
    raw_services = raw.get("services") or []
    if not isinstance(raw_services, list):
        r.problem(raw, "services", "services", "must be a list of {name, team}")
        raw_services = []
    seen: set[str] = set()
    for i, item in enumerate(raw_services):
        where = f"services[{i}]"
        if not isinstance(item, dict) or not item.get("name"):
            r.problem(raw, "services", where, "each service needs a name")
            continue
        name = r.string(item, "name", where + ".name")
        if name in seen:
            r.problem(item, "name", where + ".name", f"service {name!r} is listed twice")
        seen.add(name)
        services.append(Service(name=name, team=r.string(item, "team", where + ".team")))

    stack_node = r.mapping(raw, "stack", "stack")
    ports = dict(DEFAULT_PORTS)
    raw_ports = r.mapping(stack_node, "ports", "stack.ports")
    for key, value in raw_ports.items():
        if key not in DEFAULT_PORTS:
            r.problem(raw_ports, key, f"stack.ports.{key}", f"unknown port; known: {', '.join(DEFAULT_PORTS)}")
        elif not isinstance(value, int) or not 0 < value < 65536:
            r.problem(raw_ports, key, f"stack.ports.{key}", f"must be a port number, got {value!r}")
        else:
            ports[key] = value
    state_dir = os.environ.get("TRACKLOG_STATE") or r.string(stack_node, "state_dir", "stack.state_dir", "state")
    stack = StackConfig(state_dir=(root / state_dir).resolve(), ports=ports)

    agent_node = r.mapping(raw, "agent", "agent")
    sources: list[AgentSource] = []
    for i, item in enumerate(agent_node.get("sources") or []):
        where = f"agent.sources[{i}]"
        if not isinstance(item, dict):
            r.problem(agent_node, "sources", where, "must be a mapping")
            continue
        fmt = r.string(item, "format", where + ".format", "json")
        if fmt not in ("json", "logfmt", "regex", "plain"):
            r.problem(item, "format", where + ".format", f"{fmt!r} is not one of json, logfmt, regex, plain")
        regex = r.string(item, "regex", where + ".regex")
        if fmt == "regex":
            try:
                re.compile(regex)
            except re.error as exc:
                r.problem(item, "regex", where + ".regex", f"not a valid regular expression: {exc}")
        labels = item.get("labels") or {}
        if not isinstance(labels, dict):
            r.problem(item, "labels", where + ".labels", "must be a mapping of label name to value")
            labels = {}
        sources.append(AgentSource(
            name=r.string(item, "name", where + ".name", f"source{i}"),
            path=r.string(item, "path", where + ".path"),
            format=fmt,
            regex=regex,
            labels={str(k): str(v) for k, v in labels.items()},
        ))
    positions = r.string(agent_node, "positions_file", "agent.positions_file", "state/agent/positions.json")
    agent = AgentConfig(positions_file=(root / positions).resolve(), sources=tuple(sources))

    known_services = {s.name for s in services} | {src.labels["service"] for src in sources if "service" in src.labels}
    log_types, rules = read_log_types(r, raw, known_services)
    archive = read_archive(r, raw, rules)
    notifications = read_notifications(r, raw)
    grafana = read_grafana(r, raw)
    smtp = read_smtp(r, raw)
    security = read_security(r, raw)
    thresholds = read_thresholds(r, raw)
    redaction = _redaction(r, raw, security)
    knobs = {}
    for key, value in raw.items():
        if _KNOB.fullmatch(str(key)):
            knobs[str(key)] = value
        elif key not in SECTIONS:
            r.problem(raw, key, str(key), f"unknown section; the sections are {', '.join(SECTIONS)} (and camelCase "
                                          f"knobs of dashboards/lib/config.libsonnet)")

    if r.problems:
        raise ConfigError(r.problems)
    return Config(
        path=path,
        project=str(raw.get("project") or "tracklog"),
        env=str(raw.get("env") or "dev"),
        endpoints=endpoints,
        services=tuple(services),
        log_types=log_types,
        stack=stack,
        agent=agent,
        retention_rules=rules,
        archive=archive,
        notifications=notifications,
        grafana=grafana,
        smtp=smtp,
        security=security,
        thresholds=thresholds,
        redaction=redaction,
        jsonnet_knobs=knobs,
        lines=key_lines(raw),
    )


def _redaction(r: _Reader, raw: _LineDict, security: SecurityConfig) -> dict[str, Any]:
    """``redaction:`` checked the way the exporters read it (exporters.redact_config), so a mistake shows here
    with its line instead of in a service at start-up."""
    from exporters.redact import Redactor
    from exporters.redact_config import redactor_options

    node = r.mapping(raw, "redaction", "redaction")
    try:
        options = redactor_options(node, list(security.allowed_countries))
        Redactor(**options)
    except (ValueError, TypeError) as exc:
        r.problem(raw, "redaction", "redaction", str(exc))
        return {}
    return options
