"""The typed tracklog.yaml as tracklog.jsonnet's top-level argument ``config``.

The Jsonnet library reads the sections under their tracklog.yaml names (dashboards/lib/config.libsonnet documents
each); this is the one place they are written, from the checked :class:`provisioning.config.Config`, never from the
file as parsed: endpoint URLs as the loader resolved them (``TRACKLOG_*_URL``), the retention rules it derived,
defaults filled in.
"""

from __future__ import annotations

from typing import Any

from provisioning.config import Config


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
        "thresholds": config.thresholds.as_jsonnet(),
        "security": config.security.as_jsonnet(),
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
