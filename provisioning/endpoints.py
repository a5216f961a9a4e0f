"""``endpoints:`` of tracklog.yaml: where Loki, Prometheus, Alertmanager, Grafana and the S3 store are, and the names
of the environment variables holding their credentials (never the secrets themselves)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from provisioning.retentionrules import LOG_TYPES
from provisioning.yamlreader import Reader as _Reader


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


def read_endpoints(r: _Reader, raw: Any) -> Endpoints:
    """The ``endpoints`` section (``TRACKLOG_<SERVER>_URL`` overrides a URL); its problems go to ``r``."""
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
    return endpoints


def _url(r: _Reader, node: Any, key: str, where: str, default: str) -> str:
    # TRACKLOG_LOKI_URL etc. point tracklog at existing servers without editing the file.
    override = os.environ.get(f"TRACKLOG_{where.split('.')[1].upper()}_URL")
    value = (override or r.string(node, key, where, default)).rstrip("/")
    if not re.match(r"^https?://[^/\s]+", value):
        r.problem(node, key, where, f"must be an http(s) URL, got {value!r}")
    return value
