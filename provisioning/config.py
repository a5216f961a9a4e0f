"""Load tracklog.yaml once into frozen dataclasses, reporting every problem with its file and line."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from exporters.agent.settings import AgentSource
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
    LogType,
    RetentionRule,
    _known_keys,
    read_log_types,
)
from provisioning.securityconfig import SecurityConfig, read_security
from provisioning.timerange import NS, parse_duration
from provisioning.yamlreader import LineDict as _LineDict
from provisioning.yamlreader import LineLoader as _LineLoader
from provisioning.yamlreader import Reader as _Reader

DEFAULT_PATH = "tracklog.yaml"
__all__ = ["LOG_TYPES", "PRIORITY_LOG_TYPE", "PRIORITY_SERVICE", "Config", "ConfigError", "LogType", "RetentionRule",
           "load"]


@dataclass(frozen=True)
class LokiEndpoint:
    url: str = "http://127.0.0.1:3100"
    tenant: str = ""
    username_env: str = ""
    password_env: str = ""
    bearer_token_env: str = ""
    verify_tls: bool = True
    tenants: tuple[tuple[str, str], ...] = ()  # (log type, tenant) pairs of endpoints.loki.tenants

    def credentials(self) -> tuple[tuple[str, str] | None, str | None]:
        """(basic auth, bearer token) from the environment variables named here; a set token wins over basic auth."""
        if self.bearer_token_env and os.environ.get(self.bearer_token_env):
            return None, os.environ[self.bearer_token_env]
        if self.username_env and os.environ.get(self.username_env):
            return (os.environ[self.username_env], os.environ.get(self.password_env, "")), None
        return None, None

    def tenant_for(self, log_type: str | None) -> str:
        """The X-Scope-OrgID holding ``log_type``'s records: its own tenant if ``tenants`` names one, else ``tenant``.

        The one way tracklog picks a tenant: writers (handler, agent, restore) and readers (every command) use it.
        """
        return next((t for name, t in self.tenants if name == log_type), self.tenant)

    @property
    def tenant_map(self) -> dict[str, str]:
        """``endpoints.loki.tenants``: log type -> tenant."""
        return dict(self.tenants)

    @property
    def tenant_ids(self) -> tuple[str, ...]:
        """Every tenant tracklog writes to: ``tenant`` first, then the others in the order tracklog.yaml names them."""
        return tuple(dict.fromkeys([self.tenant, *(t for _, t in self.tenants)]))


# Loki's rule for tenant ids (X-Scope-OrgID): these characters, at most 150 of them, and never "." or "..".
_TENANT_ID = re.compile(r"[A-Za-z0-9!._*'()-]{1,150}")


def _loki_tenants(r: _Reader, loki: Any, default: str) -> tuple[tuple[str, str], ...]:
    """endpoints.loki.tenants (log type -> tenant), checked; empty when not set."""
    node = r.mapping(loki, "tenants", "endpoints.loki.tenants")
    pairs = []
    for log_type, tenant in node.items():
        where = f"endpoints.loki.tenants.{log_type}"
        if log_type not in LOG_TYPES:
            r.problem(node, log_type, where, f"unknown log type; the four are {', '.join(LOG_TYPES)}")
        elif not isinstance(tenant, str) or not _TENANT_ID.fullmatch(tenant) or tenant in (".", ".."):
            r.problem(node, log_type, where, f"must be a Loki tenant id (letters, digits and !-_.*'(), at most 150), "
                                             f"got {tenant!r}")
        else:
            pairs.append((str(log_type), tenant))
    if any(tenant != default for _, tenant in pairs) and not default:
        r.problem(loki, "tenants", "endpoints.loki.tenants",
                  "needs endpoints.loki.tenant too, the tenant of the other log types: Loki with auth_enabled: true "
                  "(which tenants need) refuses requests without X-Scope-OrgID")
    return tuple(pairs)


@dataclass(frozen=True)
class GrafanaEndpoint:
    url: str = "http://127.0.0.1:3000"
    token_env: str = "GRAFANA_TOKEN"
    username_env: str = "GRAFANA_USER"
    password_env: str = "GRAFANA_PASSWORD"


@dataclass(frozen=True)
class S3Endpoint:
    url: str = "http://127.0.0.1:9000"
    bucket: str = "tracklog-archive"
    region: str = "us-east-1"
    access_key_env: str = "TRACKLOG_S3_ACCESS_KEY"
    secret_key_env: str = "TRACKLOG_S3_SECRET_KEY"

    def credentials(self) -> tuple[str, str]:
        """The access key and secret from the variables named here, or the native stack's local defaults.

        The defaults only ever serve the native stack's S3 gateway on 127.0.0.1 (README, "archives").
        """
        return (os.environ.get(self.access_key_env) or LOCAL_S3_CREDENTIALS[0],
                os.environ.get(self.secret_key_env) or LOCAL_S3_CREDENTIALS[1])


# The native stack's S3 gateway's own credentials when none are set (it listens on 127.0.0.1 only).
LOCAL_S3_CREDENTIALS = ("tracklog", "tracklog-local-secret")


@dataclass(frozen=True)
class Endpoints:
    loki: LokiEndpoint = field(default_factory=LokiEndpoint)
    s3: S3Endpoint = field(default_factory=S3Endpoint)
    prometheus: str = "http://127.0.0.1:9090"
    alertmanager: str = "http://127.0.0.1:9093"
    grafana: GrafanaEndpoint = field(default_factory=GrafanaEndpoint)


@dataclass(frozen=True)
class Service:
    name: str
    team: str = ""


@dataclass(frozen=True)
class ArchiveConfig:
    """``archive:``: how far behind now archive runs end, and which log types are archived."""

    lag: str = ""  # empty: no lag, `tracklog archive --before` defaults to now
    lag_seconds: int = 0
    log_types: tuple[str, ...] = ()


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
    raw: dict[str, Any]
    retention_rules: tuple[RetentionRule, ...] = ()
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)
    notifications: Notifications = field(default_factory=Notifications)
    grafana: GrafanaSettings = field(default_factory=GrafanaSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    security: SecurityConfig | None = None

    @property
    def root(self) -> Path:
        """The directory of tracklog.yaml; relative paths in it are relative to this."""
        return self.path.parent


DEFAULT_PORTS = {
    "s3": 9000,
    "loki": 3100,
    "loki_grpc": 9095,
    "prometheus": 9090,
    "alertmanager": 9093,
    "alertmanager_webhook": 9099,
}


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """Load and check tracklog.yaml.

    Args:
        path: the file; defaults to ``$TRACKLOG_CONFIG`` or ``./tracklog.yaml``.

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
    return _build(config_path, raw)


def _build(path: Path, raw: _LineDict) -> Config:
    r = _Reader(path)
    root = path.parent

    eps = r.mapping(raw, "endpoints", "endpoints")
    loki = r.mapping(eps, "loki", "endpoints.loki")
    grafana = r.mapping(eps, "grafana", "endpoints.grafana")
    s3 = r.mapping(eps, "s3", "endpoints.s3")
    endpoints = Endpoints(
        s3=S3Endpoint(
            url=_url(r, s3, "url", "endpoints.s3.url", S3Endpoint.url),
            bucket=r.string(s3, "bucket", "endpoints.s3.bucket", S3Endpoint.bucket),
            region=r.string(s3, "region", "endpoints.s3.region", S3Endpoint.region),
            access_key_env=r.env_name(s3, "access_key_env", "endpoints.s3.access_key_env", S3Endpoint.access_key_env),
            secret_key_env=r.env_name(s3, "secret_key_env", "endpoints.s3.secret_key_env", S3Endpoint.secret_key_env),
        ),
        loki=LokiEndpoint(
            url=_url(r, loki, "url", "endpoints.loki.url", LokiEndpoint.url),
            tenant=r.string(loki, "tenant", "endpoints.loki.tenant"),
            username_env=r.env_name(loki, "username_env", "endpoints.loki.username_env"),
            password_env=r.env_name(loki, "password_env", "endpoints.loki.password_env"),
            bearer_token_env=r.env_name(loki, "bearer_token_env", "endpoints.loki.bearer_token_env"),
            verify_tls=bool(loki.get("verify_tls", True)),
            tenants=_loki_tenants(r, loki, str(loki.get("tenant") or "")),
        ),
        prometheus=_url(r, r.mapping(eps, "prometheus", "endpoints.prometheus"), "url",
                        "endpoints.prometheus.url", Endpoints.prometheus),
        alertmanager=_url(r, r.mapping(eps, "alertmanager", "endpoints.alertmanager"), "url",
                          "endpoints.alertmanager.url", Endpoints.alertmanager),
        grafana=GrafanaEndpoint(
            url=_url(r, grafana, "url", "endpoints.grafana.url", GrafanaEndpoint.url),
            token_env=r.env_name(grafana, "token_env", "endpoints.grafana.token_env", "GRAFANA_TOKEN"),
            username_env=r.env_name(grafana, "username_env", "endpoints.grafana.username_env", "GRAFANA_USER"),
            password_env=r.env_name(grafana, "password_env", "endpoints.grafana.password_env", "GRAFANA_PASSWORD"),
        ),
    )

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
    archive = _archive(r, raw, rules)
    notifications = read_notifications(r, raw)
    grafana = read_grafana(r, raw)
    smtp = read_smtp(r, raw)
    security = read_security(r, raw)

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
        raw=raw,
        retention_rules=rules,
        archive=archive,
        notifications=notifications,
        grafana=grafana,
        smtp=smtp,
        security=security,
    )


def _archive(r: _Reader, raw: _LineDict, rules: tuple[RetentionRule, ...]) -> ArchiveConfig:
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


def _url(r: _Reader, node: Any, key: str, where: str, default: str) -> str:
    # TRACKLOG_LOKI_URL etc. point tracklog at existing servers without editing the file.
    override = os.environ.get(f"TRACKLOG_{where.split('.')[1].upper()}_URL")
    value = (override or r.string(node, key, where, default)).rstrip("/")
    if not re.match(r"^https?://[^/\s]+", value):
        r.problem(node, key, where, f"must be an http(s) URL, got {value!r}")
    return value
