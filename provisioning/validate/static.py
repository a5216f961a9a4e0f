"""Checks of the rendered objects that need no server: uids, datasource references, dashboard links, folders and
notification templates."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from provisioning.config import Config
from provisioning.markers import PERMISSION_LEVELS, RULE_PREFIX, TEMPLATE_PREFIX
from provisioning.render import Rendered
from provisioning.validate.gotemplate import parse_template
from provisioning.validate.problem import Problem

DATASOURCE_UIDS = frozenset({"loki", "prometheus", "alertmanager"})
MIXED_UID = "-- Mixed --"  # Grafana's datasource of a panel whose queries name their own
EXPRESSION_UID = "__expr__"  # Grafana's server-side expressions (math, reduce, threshold) in alert rules
MAX_UID = 40
GRANTABLE = tuple(level for level in PERMISSION_LEVELS if level != "Admin")  # grafana.security_permission
RESERVED_TEMPLATE_PREFIXES = ("default.", "__")  # Grafana's own: default.title, default.message, __subject, ...
_UID_CHARS = re.compile(r"^[A-Za-z0-9_-]+$")


def _dashboard_where(file_name: str, dashboard: dict[str, Any]) -> str:
    return f"dashboard {file_name} (uid {dashboard.get('uid')})"


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # panels inside collapsed rows


def _check_uids(rendered: Rendered) -> list[Problem]:
    problems = []
    kinds = {
        "dashboard": [(_dashboard_where(f, d), d.get("uid")) for f, d in sorted(rendered.dashboards.items())],
        "alert rule": [(f"alert rule {r.get('title')!r} (group {g.get('title')})", r.get("uid"))
                       for g in rendered.grafana_alerts for r in g.get("rules", [])],
    }
    for kind, items in kinds.items():
        seen: dict[str, str] = {}
        for where, uid in items:
            if not uid:
                problems.append(Problem(where, f"the {kind} has no uid"))
                continue
            if len(uid) > MAX_UID:
                problems.append(Problem(where, f"uid {uid!r} is {len(uid)} characters; Grafana allows {MAX_UID}"))
            if not _UID_CHARS.match(uid):
                problems.append(Problem(where, f"uid {uid!r} may hold only letters, digits, '-' and '_'"))
            if uid in seen:
                problems.append(Problem(where, f"uid {uid!r} is also the uid of {seen[uid]}"))
            if kind == "alert rule" and not uid.startswith(RULE_PREFIX):
                problems.append(Problem(where, f"uid {uid!r} does not start with {RULE_PREFIX!r}, the marker by which "
                                               "apply finds tracklog's rule groups in Grafana (and prunes them)"))
            seen.setdefault(uid, where)
    titles: dict[str, str] = {}
    for file_name, dashboard in sorted(rendered.dashboards.items()):
        title = dashboard.get("title", "")
        if title in titles:
            problems.append(Problem(_dashboard_where(file_name, dashboard),
                                    f"title {title!r} is also the title of {titles[title]}"))
        titles.setdefault(title, file_name)
    return problems


def _datasource_refs(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every datasource reference below ``node``: (path, uid or name)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource" and value is not None:
                yield path, value.get("uid") if isinstance(value, dict) else value
            elif key == "datasourceUid":
                yield path, value
            else:
                yield from _datasource_refs(value, path)
    elif isinstance(node, list):
        for item in node:
            yield from _datasource_refs(item, path)


def _datasource_types(rendered: Rendered) -> dict[str, str]:
    """uid -> type of every datasource provisioning creates: the fixed three and any rendered (tenant) ones."""
    listed = rendered.provisioning.get("datasources", {}).get("datasources", [])
    types = {uid: uid for uid in DATASOURCE_UIDS}  # each fixed uid is its type's name
    types.update({ds["uid"]: ds.get("type", "") for ds in listed if ds.get("uid")})
    return types


def _datasource_variables(dashboard: dict[str, Any]) -> dict[str, str]:
    """``${name}`` and ``$name`` -> datasource type, for the dashboard's datasource variables (e.g. loki_tenant)."""
    out = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "datasource" and variable.get("name"):
            out[f"${{{variable['name']}}}"] = out[f"${variable['name']}"] = str(variable.get("query", ""))
    return out


def _check_datasources(rendered: Rendered) -> list[Problem]:
    problems = []
    provisioned = set(_datasource_types(rendered))
    for file_name, dashboard in sorted(rendered.dashboards.items()):
        where = _dashboard_where(file_name, dashboard)
        known = provisioned | set(_datasource_variables(dashboard))
        for variable in dashboard.get("templating", {}).get("list", []):
            for _, uid in _datasource_refs(variable):
                if uid not in known:
                    problems.append(Problem(f"{where}, variable {variable.get('name')!r}", _unknown(uid, known)))
        for panel in _panels(dashboard):
            if panel.get("type") == "row":
                continue
            panel_where = f"{where}, panel {panel.get('title')!r}"
            if not panel.get("datasource"):
                problems.append(Problem(panel_where, "the panel has no datasource"))
            for target in panel.get("targets", []):
                if not target.get("datasource"):
                    problems.append(Problem(f"{panel_where}, query {target.get('refId')}",
                                            "the query has no datasource"))
            mixed = isinstance(panel.get("datasource"), dict) and panel["datasource"].get("uid") == MIXED_UID
            for _, uid in _datasource_refs(panel):
                if uid == MIXED_UID and mixed:
                    continue  # the panel's queries use several datasources, each named by its query
                if uid not in known:
                    problems.append(Problem(panel_where, _unknown(uid, known)))
    known = provisioned
    for group in rendered.grafana_alerts:
        for rule in group.get("rules", []):
            where = f"alert rule {rule.get('title')!r} (group {group.get('title')})"
            for node in rule.get("data", []):
                uid = node.get("datasourceUid")
                is_expression = node.get("model", {}).get("type") in ("math", "reduce", "threshold", "resample")
                if uid == EXPRESSION_UID and is_expression:
                    continue
                if uid not in known:
                    problems.append(Problem(f"{where}, query {node.get('refId')}", _unknown(uid, known)))
    return problems


def _unknown(uid: Any, known: set[str]) -> str:
    return f"datasource {uid!r} is not one provisioning creates ({', '.join(sorted(known))})"


def _check_dashboard_links(rendered: Rendered) -> list[Problem]:
    uids = {d.get("uid") for d in rendered.dashboards.values()}
    problems = []
    for group in rendered.grafana_alerts:
        for rule in group.get("rules", []):
            linked = rule.get("annotations", {}).get("__dashboardUid__")
            if linked and linked not in uids:
                problems.append(Problem(f"alert rule {rule.get('title')!r} (group {group.get('title')})",
                                        f"links to dashboard uid {linked!r}, which is not rendered"))
    return problems


def _at(config: Config, node: Any, key: str | None = None) -> str:
    """file:line of a node of tracklog.yaml (or of one of its keys), as the loader recorded it."""
    key_lines = getattr(node, "key_lines", {})
    line = key_lines.get(key, getattr(node, "line", 0)) if key else getattr(node, "line", 0)
    return f"{config.path.name}:{line}"


def _check_folders(config: Config, rendered: Rendered) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    for folder in rendered.folders:
        uid = folder.get("uid", "")
        where = f"Grafana folder {folder.get('title')!r} (uid {uid})"
        if not uid or len(uid) > MAX_UID or not _UID_CHARS.match(uid):
            problems.append(Problem(where, f"the uid must be 1-{MAX_UID} letters, digits, '-' or '_'"))
        if uid in seen:
            problems.append(Problem(where, f"uid {uid!r} is also the uid of another folder; grafana.folder_uid and "
                                           "grafana.security_folder_uid must differ"))
        seen.add(uid)
        for item in folder.get("permissions") or []:
            if item.get("permission") not in GRANTABLE:
                problems.append(Problem(f"{config.path.name}: grafana.security_permission",
                                        f"{item.get('permission')!r} is not one of {', '.join(GRANTABLE)}"))
    for file_name, folder_uid in sorted(rendered.dashboard_folders.items()):
        if folder_uid not in seen:
            problems.append(Problem(_dashboard_where(file_name, rendered.dashboards.get(file_name, {})),
                                    f"goes to folder {folder_uid!r}, which is not one provisioning creates "
                                    f"({', '.join(sorted(seen))})"))
    for group in rendered.grafana_alerts:
        if group.get("folderUID") not in seen:
            problems.append(Problem(f"alert rule group {group.get('title')!r}",
                                    f"goes to folder {group.get('folderUID')!r}, which is not one provisioning "
                                    f"creates ({', '.join(sorted(seen))})"))
    return problems


def _check_templates(config: Config, rendered: Rendered) -> list[Problem]:
    """Template groups: marked for pruning, names unique, Go template syntax balanced; contact points name real ones."""
    problems = []
    defined: dict[str, str] = {}  # template name -> the group defining it
    groups: set[str] = set()
    references: list[tuple[str, str, int]] = []
    for group in rendered.templates:
        name = group.get("name", "")
        where = f"notification template group {name!r}"
        if name in groups:
            problems.append(Problem(where, "the name is used by another template group"))
        groups.add(name)
        if not name.startswith(TEMPLATE_PREFIX):
            problems.append(Problem(where, f"the name must start with {TEMPLATE_PREFIX!r}: that is how apply tells "
                                           "tracklog's templates from hand-made ones when it prunes"))
        parsed = parse_template(group.get("template", ""))
        problems += [Problem(f"{where}, line {line}", message) for line, message in parsed.problems]
        for defined_name, line in parsed.defines:
            if defined_name in defined:
                problems.append(Problem(f"{where}, line {line}", f"template {defined_name!r} is also defined in "
                                                                 f"group {defined[defined_name]!r}"))
            elif defined_name.startswith(RESERVED_TEMPLATE_PREFIXES):
                problems.append(Problem(f"{where}, line {line}", f"template {defined_name!r} would replace one of "
                                                                 "Grafana's built-in templates; choose another name"))
            defined.setdefault(defined_name, name)
        references += [(where, ref, line) for ref, line in parsed.references]
    namespaces = {name.split(".", 1)[0] + "." for name in defined if "." in name}
    for where, ref, line in references:  # a typo in our own namespace; Grafana's built-ins are not known here
        if ref not in defined and ref.startswith(tuple(namespaces)):
            problems.append(Problem(f"{where}, line {line}", f"uses template {ref!r}, which no group defines"))

    for i, point in enumerate(config.notifications.contact_points):
        where = f"{point.templates_place}: contact_points[{i}] ({point.name})"
        for role, name in point.templates:
            if name not in defined:
                known = ", ".join(sorted(defined)) or "none"
                problems.append(Problem(where, f"templates.{role}: no notification template defines {name!r} "
                                               f"(defined: {known}; see alerts/templates/)"))
    return problems
