"""Check rendered dashboards and rules, collecting every problem: uids, datasources, and each query on the real servers.

PromQL goes to Prometheus's /api/v1/query (400 + "parse error" on bad syntax) and the rule file through
`promtool check rules`; LogQL goes to Loki's /loki/api/v1/query_range over one minute with limit=1 (400 on
a parse error). Grafana's variables are replaced by harmless values first. Grafana's folders and notification
templates are checked statically: folder uids, the permission given, template names, and that each contact point
names a template that exists.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from provisioning.config import Config
from provisioning.markers import PERMISSION_LEVELS, RULE_PREFIX, TEMPLATE_PREFIX
from provisioning.render import Rendered

DATASOURCE_UIDS = frozenset({"loki", "prometheus", "alertmanager"})
MIXED_UID = "-- Mixed --"  # Grafana's datasource of a panel whose queries name their own
EXPRESSION_UID = "__expr__"  # Grafana's server-side expressions (math, reduce, threshold) in alert rules
MAX_UID = 40
GRANTABLE = tuple(level for level in PERMISSION_LEVELS if level != "Admin")  # grafana.security_permission
RESERVED_TEMPLATE_PREFIXES = ("default.", "__")  # Grafana's own: default.title, default.message, __subject, ...
_UID_CHARS = re.compile(r"^[A-Za-z0-9_-]+$")

# Values for Grafana's built-in variables; any variable a dashboard defines becomes PLACEHOLDER.
BUILTINS = {
    "__interval": "1m", "__interval_ms": "60000", "__rate_interval": "1m", "__range": "1h", "__range_s": "3600",
    "__range_ms": "3600000", "__auto": "1m", "__from": "0", "__to": "0",
}
PLACEHOLDER = "validate"
_VARIABLE = re.compile(r"\$\{(?P<braced>\w+)(?::[^}]*)?\}|\[\[(?P<bracketed>\w+)(?::\w+)?\]\]|\$(?P<plain>\w+)")


@dataclass(frozen=True)
class Problem:
    """One thing wrong, and where: a dashboard and panel, a rule, or a server."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class Query:
    language: str  # 'promql' or 'logql'
    expr: str
    where: str


def validate(config: Config, rendered: Rendered, timeout: float = 15.0) -> list[Problem]:
    """Return every problem of ``rendered``, checking each query against the servers in ``config``."""
    problems = [*_check_uids(rendered), *_check_datasources(rendered), *_check_dashboard_links(rendered),
                *_check_folders(config, rendered), *_check_templates(config, rendered)]
    queries = list(_queries(rendered))
    session = requests.Session()
    problems += _run(queries, "promql", "Prometheus", config.endpoints.prometheus, "/-/ready",
                     lambda q: _promql(session, config.endpoints.prometheus, q, timeout), session, timeout)
    problems += _run(queries, "logql", "Loki", config.endpoints.loki.url, "/ready",
                     lambda q: _logql(session, config, q, timeout), session, timeout)
    problems += _promtool(rendered)
    return problems


def substitute(expr: str, variables: frozenset[str] = frozenset()) -> str:
    """Replace Grafana's built-in variables and the dashboard's ``variables`` with harmless values."""

    def value(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bracketed") or match.group("plain")
        if name in BUILTINS:
            return BUILTINS[name]
        return PLACEHOLDER if name in variables else match.group(0)

    return _VARIABLE.sub(value, expr)


# --- static checks ---------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class ParsedTemplate:
    defines: list[tuple[str, int]]  # (name, line) of each {{ define }} and {{ block }}
    references: list[tuple[str, int]]  # (name, line) of each {{ template }}
    problems: list[tuple[int, str]]  # (line, message)


_BLOCK_OPENERS = ("if", "range", "with", "define", "block")
_QUOTED_NAME = re.compile(r'^\s*"((?:[^"\\]|\\.)*)"|^\s*`([^`]*)`')


def parse_template(text: str) -> ParsedTemplate:
    """Check Go template text for what breaks most often: unclosed actions, and define/if/range/with/block and
    else/end that do not pair up. Not a full parser: pipelines and functions are left to Grafana."""
    defines: list[tuple[str, int]] = []
    references: list[tuple[str, int]] = []
    problems: list[tuple[int, str]] = []
    stack: list[tuple[str, int]] = []  # open blocks: ('define "x"', line), ('if', line), ...
    pos = 0
    while (start := text.find("{{", pos)) >= 0:
        line = text.count("\n", 0, start) + 1
        end = _action_end(text, start + 2)
        if end < 0:
            problems.append((line, "an action opened with {{ is never closed with }}"))
            break
        body = text[start + 2:end]
        pos = end + 2
        body = body[1:] if body.startswith("-") else body
        body = body[:-1] if body.endswith("-") else body
        body = body.strip()
        if body.startswith("/*"):
            continue
        if not body:
            problems.append((line, "an empty action {{ }}"))
            continue
        keyword, _, rest = body.replace("\t", " ").replace("\n", " ").partition(" ")
        label = keyword
        if keyword in ("define", "block", "template"):
            match = _QUOTED_NAME.match(rest)
            if match is None:
                problems.append((line, f"{{{{ {keyword} }}}} needs a quoted template name"))
                name = ""
            else:
                name = match.group(1) if match.group(1) is not None else match.group(2)
            if keyword == "template":
                references.append((name, line))
                continue
            label = f'{keyword} "{name}"'
            if keyword == "define" and stack:
                problems.append((line, f"{{{{ {label} }}}} inside {{{{ {stack[-1][0]} }}}} (line "
                                       f"{stack[-1][1]}); a define must stand at the top level"))
            defines.append((name, line))
        if keyword in _BLOCK_OPENERS:
            stack.append((label, line))
        elif keyword == "else":
            if not stack or stack[-1][0] not in ("if", "range", "with"):  # define/block labels hold their names
                problems.append((line, "{{ else }} outside an if, range or with"))
        elif keyword == "end":
            if not stack:
                problems.append((line, "{{ end }} without an if, range, with, define or block to close"))
            else:
                stack.pop()
    for label, line in stack:
        problems.append((line, f"{{{{ {label} }}}} is never closed with {{{{ end }}}}"))
    return ParsedTemplate(defines, references, problems)


def _action_end(text: str, pos: int) -> int:
    """Where the action from ``pos`` (just after its {{) closes, skipping quoted text and comments; -1 if never."""
    if text.startswith("/*", pos) or text.startswith("- /*", pos):
        comment_end = text.find("*/", pos)
        return -1 if comment_end < 0 else text.find("}}", comment_end)
    while pos < len(text):
        ch = text[pos]
        if text.startswith("}}", pos):
            return pos
        if text.startswith("{{", pos):
            return -1  # a new action before this one closed
        if ch in "\"'`":
            close = _string_end(text, pos)
            if close < 0:
                return -1
            pos = close
        pos += 1
    return -1


def _string_end(text: str, pos: int) -> int:
    quote = text[pos]
    pos += 1
    while pos < len(text):
        if text[pos] == "\\" and quote != "`":
            pos += 2
            continue
        if text[pos] == quote:
            return pos
        if text[pos] == "\n" and quote != "`":
            return -1
        pos += 1
    return -1


# --- queries ---------------------------------------------------------------------------------------------


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


def _promtool(rendered: Rendered) -> list[Problem]:
    where = "Prometheus rule file"
    promtool = shutil.which("promtool")
    if promtool is None:
        return [Problem(where, "promtool is not installed, so `promtool check rules` did not run "
                               "(Debian: apt-get install prometheus; 'make test' installs it)")]
    with tempfile.TemporaryDirectory(prefix="tracklog-rules-") as tmp:
        path = Path(tmp) / "tracklog.rules.yaml"
        path.write_text(yaml.safe_dump(rendered.prometheus_rules, sort_keys=False), encoding="utf-8")
        result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    if result.returncode == 0:
        return []
    lines = [line.strip() for line in (result.stderr + result.stdout).splitlines()]
    details = [line for line in lines if line and not line.startswith(("Checking ", "SUCCESS", "FAILED"))]
    return [Problem(where, f"promtool check rules: {line}") for line in details] or [
        Problem(where, f"promtool check rules failed with exit code {result.returncode}")]
