"""Every query of the rendered dashboards and rules, run against the real servers: PromQL on Prometheus's
/api/v1/query, LogQL on Loki's /loki/api/v1/query_range (a parse error answers 400), with Grafana's variables
replaced by harmless values first."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from provisioning.config import Config
from provisioning.render import Rendered
from provisioning.validate.problem import Problem, Query
from provisioning.validate.static import _dashboard_where, _datasource_types, _datasource_variables, _panels

# Values for Grafana's built-in variables; any variable a dashboard defines becomes PLACEHOLDER.
BUILTINS = {
    "__interval": "1m", "__interval_ms": "60000", "__rate_interval": "1m", "__range": "1h", "__range_s": "3600",
    "__range_ms": "3600000", "__auto": "1m", "__from": "0", "__to": "0",
}
PLACEHOLDER = "validate"
_VARIABLE = re.compile(r"\$\{(?P<braced>\w+)(?::[^}]*)?\}|\[\[(?P<bracketed>\w+)(?::\w+)?\]\]|\$(?P<plain>\w+)")



def substitute(expr: str, variables: frozenset[str] = frozenset()) -> str:
    """Replace Grafana's built-in variables and the dashboard's ``variables`` with harmless values."""

    def value(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bracketed") or match.group("plain")
        if name in BUILTINS:
            return BUILTINS[name]
        return PLACEHOLDER if name in variables else match.group(0)

    return _VARIABLE.sub(value, expr)



def _queries(rendered: Rendered) -> Iterator[Query]:
    by_type = {"prometheus": "promql", "loki": "logql"}
    languages = {uid: by_type[kind] for uid, kind in _datasource_types(rendered).items() if kind in by_type}
    for file_name, dashboard in sorted(rendered.dashboards.items()):
        where = _dashboard_where(file_name, dashboard)
        variables = frozenset(v.get("name", "") for v in dashboard.get("templating", {}).get("list", []))
        local = {**languages, **{ref: by_type[kind] for ref, kind in _datasource_variables(dashboard).items()
                                 if kind in by_type}}
        for panel in _panels(dashboard):
            for target in panel.get("targets", []):
                datasource = target.get("datasource") or panel.get("datasource") or {}
                language = local.get(datasource.get("uid") if isinstance(datasource, dict) else datasource)
                if language and target.get("expr"):
                    yield Query(language, substitute(target["expr"], variables),
                                f"{where}, panel {panel.get('title')!r}, query {target.get('refId')}")
    for language, rules in (("promql", rendered.prometheus_rules), ("logql", rendered.loki_rules)):
        for group in rules.get("groups", []):
            for rule in group.get("rules", []):
                name = rule.get("alert") or rule.get("record")
                yield Query(language, rule.get("expr", ""), f"{language} rule group {group.get('name')}, rule {name}")
    for group in rendered.grafana_alerts:
        for rule in group.get("rules", []):
            for node in rule.get("data", []):
                language = languages.get(node.get("datasourceUid"))
                if language and node.get("model", {}).get("expr"):
                    where = f"alert rule {rule.get('title')!r} (group {group.get('title')}), query {node.get('refId')}"
                    yield Query(language, node["model"]["expr"], where)


def _run(queries: list[Query], language: str, server: str, url: str, ready_path: str, check: Any,
         session: requests.Session, timeout: float) -> list[Problem]:
    mine = [q for q in queries if q.language == language]
    if not mine:
        return []
    try:
        session.get(url + ready_path, timeout=timeout)
    except requests.RequestException as exc:
        return [Problem(f"{server} at {url}", f"unreachable ({type(exc).__name__}); "
                        f"{len(mine)} {language} queries were not checked — is the stack up ('tracklog stack up')?")]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(check, mine))
    return [problem for problem in results if problem is not None]


def _promql(session: requests.Session, url: str, query: Query, timeout: float) -> Problem | None:
    endpoint = f"{url}/api/v1/query"
    try:
        response = session.post(endpoint, data={"query": query.expr, "time": f"{time.time():.3f}"}, timeout=timeout)
    except requests.RequestException as exc:
        return Problem(query.where, f"Prometheus at {url} did not answer: {type(exc).__name__}")
    if response.status_code == 200:
        return None
    return Problem(query.where, f"PromQL rejected by Prometheus ({response.status_code}): {_error_text(response)}"
                                f" — query: {query.expr}")


def _logql(session: requests.Session, config: Config, query: Query, timeout: float) -> Problem | None:
    loki = config.endpoints.loki
    now = time.time_ns()
    params = {"query": query.expr, "start": str(now - 60_000_000_000), "end": str(now), "limit": "1", "step": "15"}
    try:
        response = session.get(f"{loki.url}/loki/api/v1/query_range", params=params, headers=_loki_headers(config),
                               auth=loki.credentials()[0], timeout=timeout, verify=loki.verify_tls)
    except requests.RequestException as exc:
        return Problem(query.where, f"Loki at {loki.url} did not answer: {type(exc).__name__}")
    if response.status_code == 200:
        return None
    kind = "parse error" if response.status_code == 400 else "error"
    return Problem(query.where, f"LogQL {kind} from Loki ({response.status_code}): {_error_text(response)}"
                                f" — query: {query.expr}")


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500]
    return str(body.get("error") or body.get("message") or body)[:500]


def _loki_headers(config: Config) -> dict[str, str]:
    loki = config.endpoints.loki
    headers = {"X-Scope-OrgID": loki.tenant} if loki.tenant else {}
    _, token = loki.credentials()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers
