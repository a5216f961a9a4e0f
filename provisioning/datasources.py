"""Loki tenants on the Grafana side: one Loki datasource per tenant, and the tenant each LogQL query has to read.

With ``endpoints.loki.tenants`` the security (or audit) records live in a tenant of their own, and Loki 2.2 answers
a query from one tenant only. So a query reads the tenant of the log types its stream selectors name; Grafana gets
a Loki datasource per tenant (uid ``loki-<tenant>``), and :func:`with_tenants` points every dashboard query and
Grafana-managed alert rule at the datasource of its tenant. Loki's ruler gets the same split (provisioning.stacktarget).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from typing import Any

from provisioning.config import Config, LokiEndpoint
from provisioning.selector import MATCHER

LOG_TYPE_LABEL = "log_type"
MIXED = {"type": "datasource", "uid": "-- Mixed --"}  # Grafana's datasource of a panel whose queries use several

_SELECTOR = re.compile(r"\{([^{}]*)\}")
_NAMES = re.compile(r"[A-Za-z0-9_-]+(?:\|[A-Za-z0-9_-]+)*")
_LOG_TYPE_FROM_VARIABLE = re.compile(r'\blog_type\s*=~?\s*"[^"]*\$')  # log_type=~"$log_type"


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


def query_tenants(loki: LokiEndpoint, expr: str) -> set[str]:
    """The tenants a LogQL expression reads: those of the log types it selects (the default tenant for any)."""
    tenants = set()
    for kept in selected_log_types(expr) or [None]:
        tenants |= {loki.tenant} if kept is None else {loki.tenant_for(t) for t in kept}
    return tenants


def query_tenant(loki: LokiEndpoint, expr: str) -> str | None:
    """The one tenant a LogQL expression reads, or None if it needs several (Loki 2.2 cannot query across them)."""
    tenants = query_tenants(loki, expr)
    return tenants.pop() if len(tenants) == 1 else None


def datasource_uid(base_uid: str, tenant: str) -> str:
    """``loki`` + tenant ``security-logs`` -> ``loki-security-logs`` (Grafana uids: [A-Za-z0-9_-], 40 at most)."""
    return f"{base_uid}-{re.sub(r'[^A-Za-z0-9_-]+', '-', tenant)}"[:40]


def tenant_datasources(loki: LokiEndpoint, base: dict[str, Any]) -> list[dict[str, Any]]:
    """A copy of the rendered Loki datasource ``base`` for each tenant other than the default, sending its id.

    Each copy keeps the URL and credentials of ``base``; its X-Scope-OrgID header (``httpHeaderName<n>`` with the
    value in ``secureJsonData.httpHeaderValue<n>``) names the tenant.
    """
    out = []
    for tenant in loki.tenant_ids:
        if tenant == loki.tenant:
            continue
        ds = copy.deepcopy(base)
        ds["uid"] = datasource_uid(base["uid"], tenant)
        ds["name"] = f"{base['name']} ({tenant})"
        ds.pop("isDefault", None)
        json_data = ds.setdefault("jsonData", {})
        names = {k: v for k, v in json_data.items() if re.fullmatch(r"httpHeaderName\d+", k)}
        slot = next((k[len("httpHeaderName"):] for k, v in names.items() if v == "X-Scope-OrgID"),
                    str(len(names) + 1))
        json_data[f"httpHeaderName{slot}"] = "X-Scope-OrgID"
        ds.setdefault("secureJsonData", {})[f"httpHeaderValue{slot}"] = tenant
        out.append(ds)
    return out


TENANT_VARIABLE = "loki_tenant"  # a dashboard variable choosing the tenant of queries that could read any


def tenant_variable(base: dict[str, Any]) -> dict[str, Any]:
    """A Grafana datasource variable listing tracklog's Loki datasources (``Loki``, ``Loki (<tenant>)``)."""
    return {
        "name": TENANT_VARIABLE, "label": "Loki tenant", "type": "datasource", "query": base.get("type", "loki"),
        "regex": f"/^{re.escape(base.get('name', 'Loki'))}( \\(.+\\))?$/", "hide": 0, "refresh": 1,
        "current": {"text": base.get("name", "Loki"), "value": base["uid"]},
    }


def with_tenants(config: Config, output: dict[str, Any]) -> dict[str, Any]:
    """Add the tenants' Loki datasources to tracklog.jsonnet's ``output`` and point each query at its tenant's.

    Dashboard targets and Grafana-managed alert queries on the default Loki datasource whose selectors name log
    types of another tenant move to that tenant's datasource; a panel follows its targets (``-- Mixed --`` when
    they differ). A dashboard query whose log type a variable sets (``log_type=~"$log_type"``) or that selects log
    types of several tenants makes its dashboard read the tenant a ``loki_tenant`` variable picks (added to that
    dashboard; the default tenant until the user picks another); an alert query like that stays on the default
    tenant. A dashboard's Loki query variables follow its panels. Without ``endpoints.loki.tenants`` (or when
    every tenant is the default one) ``output`` is returned unchanged.
    """
    loki = config.endpoints.loki
    listed = output.get("grafanaProvisioning", {}).get("datasources", {}).get("datasources", [])
    base = next((ds for ds in listed if ds.get("type") == "loki"), None)
    if base is None or len(loki.tenant_ids) < 2:
        return output
    listed.extend(tenant_datasources(loki, base))
    by_tenant = {t: {"type": base["type"], "uid": datasource_uid(base["uid"], t)}
                 for t in loki.tenant_ids if t != loki.tenant}
    chosen = {"type": base["type"], "uid": f"${{{TENANT_VARIABLE}}}"}

    def rule_target(expr: str) -> dict[str, str] | None:
        tenant = query_tenant(loki, expr)
        return by_tenant.get(tenant) if tenant is not None else None

    def panel_target(expr: str) -> dict[str, str] | None:
        if _LOG_TYPE_FROM_VARIABLE.search(expr):  # the dashboard's user picks the log type, so also the tenant
            return dict(chosen)
        tenants = query_tenants(loki, expr)
        return dict(chosen) if len(tenants) > 1 else by_tenant.get(next(iter(tenants)))

    for dashboard in output.get("grafanaDashboards", {}).values():
        for panel in _panels(dashboard.get("panels", [])):
            _retarget_panel(panel, base["uid"], panel_target)
        _retarget_variables(dashboard, base, chosen)
    for group in output.get("grafanaAlerts", []):
        for rule in group.get("rules", []):
            for node in rule.get("data", []):
                ref = rule_target(node.get("model", {}).get("expr", "")) if node.get("datasourceUid") == base["uid"] \
                    else None
                if ref is not None:
                    node["datasourceUid"] = ref["uid"]
                    node["model"]["datasource"] = dict(ref)
    return output


def _retarget_variables(dashboard: dict[str, Any], base: dict[str, Any], chosen: dict[str, str]) -> None:
    """Give a dashboard the tenant variable if its queries use it, and move its Loki query variables along."""
    used = {_uid(t.get("datasource")) for p in _panels(dashboard.get("panels", [])) for t in p.get("targets", [])
            if isinstance(t.get("datasource"), dict) and t["datasource"].get("type") == base["type"]}
    variables = dashboard.setdefault("templating", {}).setdefault("list", [])
    if chosen["uid"] in used:
        variables.insert(0, tenant_variable(base))
        target: dict[str, str] | None = chosen
        for panel in _panels(dashboard.get("panels", [])):  # one tenant for the whole dashboard, as the user picks
            for t in panel.get("targets", []):
                if _uid(t.get("datasource")) == base["uid"]:
                    t["datasource"] = dict(chosen)
            if _uid(panel.get("datasource")) == base["uid"]:
                panel["datasource"] = dict(chosen)
    elif len(used) == 1 and base["uid"] not in used:  # every Loki query of the dashboard reads one other tenant
        target = {"type": base["type"], "uid": next(iter(used))}
    else:
        return
    for variable in variables:
        if variable.get("type") == "query" and _uid(variable.get("datasource")) == base["uid"]:
            variable["datasource"] = dict(target)


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # a collapsed row holds its panels


def _uid(ref: Any) -> Any:
    return ref.get("uid") if isinstance(ref, dict) else ref


def _retarget_panel(panel: dict[str, Any], base_uid: str,
                    target_for: Callable[[str], dict[str, str] | None]) -> None:
    targets = panel.get("targets", [])
    for target in targets:
        if _uid(target.get("datasource") or panel.get("datasource")) == base_uid and target.get("expr"):
            ref = target_for(target["expr"])
            if ref is not None:
                target["datasource"] = dict(ref)
    if targets and _uid(panel.get("datasource")) == base_uid:
        refs = {_uid(t.get("datasource")): t.get("datasource") for t in targets if t.get("datasource")}
        if len(refs) == 1:
            panel["datasource"] = dict(next(iter(refs.values())))
        elif len(refs) > 1:
            panel["datasource"] = dict(MIXED)


__all__ = ["TENANT_VARIABLE", "datasource_uid", "query_tenant", "query_tenants", "selected_log_types",
           "tenant_datasources", "tenant_variable", "with_tenants"]
