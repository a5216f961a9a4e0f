"""The typed tracklog.yaml as tracklog.jsonnet's top-level argument ``config``.

The Jsonnet library reads the sections under their tracklog.yaml names (dashboards/lib/config.libsonnet documents
each); this is the one place they are written, from the checked :class:`provisioning.config.Config`, never from the
file as parsed: endpoint URLs as the loader resolved them (``TRACKLOG_*_URL``), the retention rules it derived,
defaults filled in.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from provisioning.config import Config
from provisioning.securityconfig import DEFAULT_SCOPES, SecurityConfig


def jsonnet_config(config: Config, endpoint_urls: dict[str, str] | None = None) -> dict[str, Any]:
    """``config`` as tracklog.jsonnet reads it; ``endpoint_urls`` replaces servers' URLs (docker-compose's names)."""
    eps = config.endpoints
    loki = eps.loki
    urls = {"loki": loki.url, "prometheus": eps.prometheus, "alertmanager": eps.alertmanager,
            "grafana": eps.grafana.url, **(endpoint_urls or {})}
    grafana = config.grafana
    return {
        **config.jsonnet_knobs,
        "project": config.project,
        "env": config.env,
        "services": [{"name": s.name, "team": s.team} for s in config.services],
        "log_types": {name: {"retention": t.retention} for name, t in config.log_types.items()},
        # The retention rules as Loki gets them (selector, priority), so dashboards show what is applied.
        "retention_rules": [
            {"log_type": r.log_type, "selector": r.selector, "priority": r.priority, "retention": r.retention,
             "days": r.retention_seconds / 86_400}
            for r in config.retention_rules
        ],
        "thresholds": dataclasses.asdict(config.thresholds),
        "security": security_section(config.security),
        "grafana": {
            "folder": grafana.folder, "folder_uid": grafana.folder_uid, "security_team": grafana.security_team,
            "security_folder": grafana.security_folder, "security_folder_uid": grafana.security_folder_uid,
            "security_permission": grafana.security_permission,
        },
        "endpoints": {
            "loki": {"url": urls["loki"], "tenant": loki.tenant, "tenants": loki.tenant_map,
                     "username_env": loki.username_env, "password_env": loki.password_env,
                     "bearer_token_env": loki.bearer_token_env},
            "prometheus": {"url": urls["prometheus"]},
            "alertmanager": {"url": urls["alertmanager"]},
            "grafana": {"url": urls["grafana"]},
        },
    }


def security_section(security: SecurityConfig) -> dict[str, Any]:
    """``security`` as the Jsonnet reads it (dashboards/lib/config.libsonnet)."""
    a = security.attacks
    return {
        "allowed_countries": list(security.allowed_countries),
        "allowed_networks": [str(n) for n in security.allowed_networks],
        "admin_roles": list(security.admin_roles),
        "role_field": security.role_field,
        "populations": [
            {"name": p.name, **({"roles": list(p.roles)} if p.roles else {}),
             **({"user_ids": [u.pattern for u in p.user_ids]} if p.user_ids else {}),
             **({"users": list(p.users)} if p.users else {})}
            for p in security.populations
        ],
        "detections": {kind: {"populations": sorted(security.scope(kind).populations),
                              "severity": security.scope(kind).severity} for kind in DEFAULT_SCOPES},
        "attacks": {
            "window": a.window,
            "credential_stuffing": {"accounts": a.stuffing_accounts, "addresses": a.stuffing_addresses,
                                    "unknown_user_share": a.stuffing_unknown_share},
            "password_spraying": {"accounts": a.spraying_accounts, "addresses": a.spraying_addresses,
                                  "attempts_per_account": a.spraying_attempts_per_account},
            "failure_surge": {"baseline": a.surge_baseline, "factor": a.surge_factor,
                              "failures": a.surge_failures, "ratio": a.surge_ratio},
            "spread_success_after_failures": {"addresses": a.spread_success_addresses},
        },
    }
