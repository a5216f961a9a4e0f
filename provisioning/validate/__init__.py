"""Check rendered dashboards and rules, collecting every problem: uids, datasources, and each query on the real servers.

PromQL goes to Prometheus's /api/v1/query (400 + "parse error" on bad syntax) and the rule file through
`promtool check rules`; LogQL goes to Loki's /loki/api/v1/query_range over one minute with limit=1 (400 on
a parse error). Grafana's variables are replaced by harmless values first. Grafana's folders and notification
templates are checked statically: folder uids, the permission given, template names, and that each contact point
names a template that exists.
"""

from __future__ import annotations

from provisioning.config import Config
from provisioning.render import Rendered
from provisioning.validate.gotemplate import ParsedTemplate, parse_template
from provisioning.validate.problem import Problem, Query
from provisioning.validate.promtool import _promtool
from provisioning.validate.queries import _logql, _promql, _queries, _run, substitute
from provisioning.validate.static import (
    _check_dashboard_links,
    _check_datasources,
    _check_folders,
    _check_templates,
    _check_uids,
)
from provisioning.validate.tenants import check_tenants

__all__ = ["ParsedTemplate", "Problem", "Query", "parse_template", "substitute", "validate"]


def validate(config: Config, rendered: Rendered, timeout: float = 15.0) -> list[Problem]:
    """Return every problem of ``rendered``, checking each query against the servers in ``config``."""
    problems = [*_check_uids(rendered), *_check_datasources(rendered), *_check_dashboard_links(rendered),
                *_check_folders(config, rendered), *_check_templates(config, rendered),
                *check_tenants(config, rendered)]
    queries = list(_queries(rendered))
    import requests

    session = requests.Session()
    problems += _run(queries, "promql", "Prometheus", config.endpoints.prometheus, "/-/ready",
                     lambda q: _promql(session, config.endpoints.prometheus, q, timeout), session, timeout)
    problems += _run(queries, "logql", "Loki", config.endpoints.loki.url, "/ready",
                     lambda q: _logql(session, config, q, timeout), session, timeout)
    problems += _promtool(rendered)
    return problems
