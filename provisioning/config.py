"""Load tracklog.yaml once into frozen dataclasses, reporting every problem with its file and line."""

from __future__ import annotations

import json
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
from provisioning.selector import parse as parse_selector
from provisioning.timerange import NS, parse_duration

LOG_TYPES = ("application", "system", "audit", "security")
DEFAULT_PATH = "tracklog.yaml"


class _LineDict(dict):
    """A mapping that remembers the line of each of its keys (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> _LineDict:  # type: ignore[override]
        mapping = _LineDict(super().construct_mapping(node, deep=True))
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {k.value: k.start_mark.line + 1 for k, _ in node.value if hasattr(k, "value")}
        return mapping


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_mapping  # type: ignore[arg-type]
)


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
        return "{" + ", ".join(f"{name}{op}{json.dumps(value)}" for name, op, value in self.matchers) + "}"


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


class _Reader:
    """Walks the parsed YAML, collecting every problem with its line instead of stopping at the first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []

    def problem(self, node: Any, key: str | None, where: str, message: str) -> None:
        self.problem_at(self.line_of(node, key), where, message)

    def problem_at(self, line: int, where: str, message: str) -> None:
        self.problems.append(f"{self.path}:{line}: {where}: {message}")

    def line_of(self, node: Any, key: str | None = None) -> int:
        if not isinstance(node, _LineDict):
            return 0
        return node.key_lines.get(key, node.line) if key else node.line

    def place(self, line: int) -> str:
        return f"{self.path}:{line}"

    def mapping(self, node: Any, key: str, where: str) -> _LineDict:
        value = node.get(key) if isinstance(node, dict) else None
        if value is None:
            empty = _LineDict()
            empty.line = getattr(node, "line", 0)
            empty.key_lines = {}
            return empty
        if not isinstance(value, dict):
            self.problem(node, key, where, f"must be a mapping, got {type(value).__name__}")
            return _LineDict()
        return value

    def string(self, node: Any, key: str, where: str, default: str = "") -> str:
        value = node.get(key, default) if isinstance(node, dict) else default
        if value is None:
            return default
        if not isinstance(value, str | int | float | bool):
            self.problem(node, key, where, f"must be a string, got {type(value).__name__}")
            return default
        return str(value)

    def env_name(self, node: Any, key: str, where: str, default: str = "") -> str:
        value = self.string(node, key, where, default)
        if value and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            self.problem(
                node, key, where, f"must name an environment variable (never the secret itself), got {value!r}"
            )
        return value


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
    log_types, rules = _log_types(r, raw, known_services)
    archive = _archive(r, raw, rules)
    notifications = read_notifications(r, raw)
    grafana = read_grafana(r, raw)
    smtp = read_smtp(r, raw)

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
    )


def _log_types(r: _Reader, raw: _LineDict,
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


def _known_keys(r: _Reader, node: _LineDict, where: str, known: tuple[str, ...]) -> None:
    for key in node:
        if key not in known:
            r.problem(node, key, f"{where}.{key}", f"unknown key; known: {', '.join(known)}")


def _retention(r: _Reader, node: _LineDict, key: str, where: str, default: str) -> tuple[str, int]:
    text = r.string(node, key, where, default)
    try:
        seconds = parse_duration(text, retention=True) // NS
    except ValueError as exc:
        r.problem(node, key, where, str(exc) if text else "needs a retention like 30d")
        return text, 0
    if seconds < 86400:
        r.problem(node, key, where, f"{text} is under 24h, the shortest retention Loki applies")
    return text, seconds


def _selector(r: _Reader, item: _LineDict, where: str) -> tuple[tuple[str, str, str], ...] | None:
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


def _check_overlaps(r: _Reader, rules: list[RetentionRule]) -> None:
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
