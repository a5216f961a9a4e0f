"""Load tracklog.yaml once into frozen dataclasses, reporting every problem with its file and line."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from provisioning.errors import ConfigError
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


@dataclass(frozen=True)
class StackConfig:
    state_dir: Path
    ports: dict[str, int]


@dataclass(frozen=True)
class AgentSource:
    name: str
    path: str
    format: str
    labels: dict[str, str]
    regex: str = ""


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
        line = 0
        if isinstance(node, _LineDict):
            line = node.key_lines.get(key, node.line) if key else node.line
        self.problems.append(f"{self.path}:{line}: {where}: {message}")

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

    log_types: dict[str, LogType] = {}
    raw_types = r.mapping(raw, "log_types", "log_types")
    for name in raw_types:
        if name not in LOG_TYPES:
            r.problem(raw_types, name, f"log_types.{name}", f"unknown log type; the four are {', '.join(LOG_TYPES)}")
    for name in LOG_TYPES:
        entry = r.mapping(raw_types, name, f"log_types.{name}")
        retention = r.string(entry, "retention", f"log_types.{name}.retention", "30d")
        try:
            seconds = parse_duration(retention, retention=True) // NS
        except ValueError as exc:
            r.problem(entry, "retention", f"log_types.{name}.retention", str(exc))
            seconds = 0
        else:
            if seconds < 86400:
                r.problem(entry, "retention", f"log_types.{name}.retention",
                          f"{retention} is under 24h, the shortest retention Loki applies")
        log_types[name] = LogType(name=name, retention=retention, retention_seconds=seconds)

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
    )


def _url(r: _Reader, node: Any, key: str, where: str, default: str) -> str:
    # TRACKLOG_LOKI_URL etc. point tracklog at existing servers without editing the file.
    override = os.environ.get(f"TRACKLOG_{where.split('.')[1].upper()}_URL")
    value = (override or r.string(node, key, where, default)).rstrip("/")
    if not re.match(r"^https?://[^/\s]+", value):
        r.problem(node, key, where, f"must be an http(s) URL, got {value!r}")
    return value
