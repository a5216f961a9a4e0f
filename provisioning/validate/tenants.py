"""With ``endpoints.loki.tenants``, each LogQL query must read the tenant holding the log types it selects.

Queries are routed where they are built (``panels.loki(..., logTypes=[...])`` and ``rule.reads([...])`` name the log
types a query reads; dashboards/lib/config.libsonnet picks the tenant's datasource). This check reads the rendered
queries back: a query whose stream selectors name a log type another tenant holds would find none of its records
(Loki 2.2 answers a query from one tenant only), which is what a missing or wrong ``logTypes`` looks like.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from provisioning.config import Config, LokiEndpoint
from provisioning.render import Rendered
from provisioning.selector import MATCHER
from provisioning.validate.problem import Problem

LOG_TYPE_LABEL = "log_type"
_SELECTOR = re.compile(r"\{([^{}]*)\}")
_NAMES = re.compile(r"[A-Za-z0-9_-]+(?:\|[A-Za-z0-9_-]+)*")


def selected_log_types(expr: str) -> list[set[str] | None]:
    """The log types each stream selector of a LogQL expression keeps: a set, or None when it does not limit them.

    ``{log_type="security"}`` keeps {security}; ``{log_type=~"audit|security"}`` {audit, security};
    ``{service="auth"}``, a negative matcher or a pattern such as ``$log_type`` keep any (None). Braces without a
    label matcher (``line_format`` templates, ``${variable}``) are not selectors and are skipped.
    """
    found: list[set[str] | None] = []
    for selector in _SELECTOR.finditer(expr):
        matchers = MATCHER.findall(selector.group(1))
        if not matchers:
            continue
        kept: set[str] | None = None
        for label, op, quoted in matchers:
            value = quoted[1:-1].replace('\\"', '"')
            if label != LOG_TYPE_LABEL:
                continue
            if op == "=":
                kept = {value} if kept is None else kept & {value}
            elif op == "=~" and _NAMES.fullmatch(value):
                names = set(value.split("|"))
                kept = names if kept is None else kept & names
        found.append(kept)
    return found


def datasource_tenants(rendered: Rendered, loki: LokiEndpoint) -> dict[str, str]:
    """uid -> tenant of each rendered Loki datasource (the X-Scope-OrgID it sends; the default tenant if none)."""
    out = {}
    for ds in rendered.provisioning.get("datasources", {}).get("datasources", []):
        if ds.get("type") != "loki":
            continue
        headers = ds.get("jsonData", {})
        values = ds.get("secureJsonData", {})
        slot = next((k[len("httpHeaderName"):] for k, v in headers.items()
                     if k.startswith("httpHeaderName") and v == "X-Scope-OrgID"), None)
        out[ds["uid"]] = values.get(f"httpHeaderValue{slot}", loki.tenant) if slot else loki.tenant
    return out


def check_tenants(config: Config, rendered: Rendered) -> list[Problem]:
    """Every LogQL query (dashboards, Grafana-managed rules, the Loki ruler's files) that reads a tenant other than
    the one holding a log type its selectors name. Nothing to check with one tenant."""
    loki = config.endpoints.loki
    if len(loki.tenant_ids) < 2:
        return []
    tenant_of = datasource_tenants(rendered, loki)
    problems = []
    for where, tenant, expr in _queries(rendered, tenant_of):
        named = set().union(*(kept for kept in selected_log_types(expr) if kept is not None))
        elsewhere = sorted(t for t in named if loki.tenant_for(t) != tenant)
        if elsewhere:
            held = ", ".join(f"{t} in tenant {loki.tenant_for(t)!r}" for t in elsewhere)
            problems.append(Problem(where, f"reads Loki tenant {tenant!r}, but its selectors name {held}: it would "
                                           f"find none of their records; build it with the log types it reads "
                                           f"(panels.loki(..., logTypes=[...]), rule.reads([...]))"))
    return problems


def _queries(rendered: Rendered, tenant_of: dict[str, str]) -> Iterator[tuple[str, str, str]]:
    """(where, the tenant it reads, LogQL) of every query whose datasource is one tenant's."""
    for file_name, dashboard in rendered.dashboards.items():
        for panel in _panels(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                uid = (target.get("datasource") or {}).get("uid")
                if uid in tenant_of and target.get("expr"):
                    yield (f"dashboard {file_name}, panel {panel.get('title')!r}, query {target.get('refId')}",
                           tenant_of[uid], target["expr"])
    for group in rendered.grafana_alerts:
        for rule in group.get("rules", []):
            for node in rule.get("data", []):
                if node.get("datasourceUid") in tenant_of:
                    yield (f"Grafana alert rule {rule.get('title')!r}", tenant_of[node["datasourceUid"]],
                           node.get("model", {}).get("expr", ""))
    for tenant, rules in rendered.loki_rules_by_tenant.items():
        for group in rules.get("groups", []):
            for rule in group.get("rules", []):
                yield f"Loki ruler rule {rule.get('alert')!r} (tenant {tenant!r})", tenant, rule.get("expr", "")


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # a collapsed row holds its panels
