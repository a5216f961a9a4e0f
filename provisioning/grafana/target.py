"""Grafana as a target: the only module that imports grafana-client. Reads live state and applies one change.

Managed objects carry a marker so that apply can prune what Git removed and leave everything else alone:
dashboards the tag ``tracklog`` (in tracklog's folders), contact points a uid starting ``tl-``, notification
template groups a name starting ``tracklog``, rule groups a rule whose uid starts ``tl-`` (in tracklog's folders).
The notification policy tree is one object in Grafana and is managed whole, as Terraform does; so is a folder's
permission list, which Grafana only replaces whole (POST /api/folders/{uid}/permissions), and so is a rule group,
which PUT /api/v1/provisioning/folder/{folder}/rule-groups/{title} replaces whole.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
from typing import Any
from urllib.parse import quote

from provisioning.config import Config
from provisioning.errors import TracklogError
from provisioning.plan import DELETE, Change, Resource
from provisioning.render import Rendered
from provisioning.secrets import hide_secrets

# A folder's permissions come right after the folder, so the security dashboards never sit in a folder that is
# still open to every Viewer; templates come before the contact points that use them.
KIND_ORDER = ("grafana-folder", "grafana-folder-permissions", "grafana-datasource", "grafana-dashboard",
              "grafana-template", "grafana-contact-point", "grafana-mute-timing", "grafana-policy",
              "grafana-rule-group")
# A rule group that moves to another folder is deleted in the old one first: Grafana's PUT of the new group would
# take the rules over by their uids (unique in the org), and deleting the old group after it would delete them.
DELETE_FIRST = ("grafana-rule-group",)
MARKER_TAG = "tracklog"
CONTACT_PREFIX = "tl-"
# The marker of tracklog's alert rules: c.uid() (dashboards/lib/config.libsonnet, uidPrefix) gives every rule uid
# it; the group titles are not a marker, as nothing makes a group's name start with "tracklog-".
RULE_PREFIX = "tl-"
TEMPLATE_PREFIX = "tracklog"  # template groups are named, not tagged: the name is the marker
# Where each contact point type takes the title and the message (tracklog.yaml: `templates: {title, message}`).
TEMPLATE_FIELDS = {"webhook": {"title": "title", "message": "message"},
                   "slack": {"title": "title", "message": "text"},
                   "email": {"title": "subject", "message": "message"}}
PERMISSION_LEVELS = {"View": 1, "Edit": 2, "Admin": 4}
_PERMISSION_NAMES = {level: name for name, level in PERMISSION_LEVELS.items()}
_DASHBOARD_NOISE = ("id", "version", "iteration")
_RULE_NOISE = ("id", "updated", "provenance", "orgID", "folderUID", "ruleGroup", "notification_settings", "record",
               "isPaused")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class GrafanaError(TracklogError):
    """Grafana answered with an error or not at all; the message names the URL, the request and what to do."""


class GrafanaTarget:
    name = "grafana"
    KIND_ORDER = KIND_ORDER
    DELETE_FIRST = DELETE_FIRST

    display = staticmethod(hide_secrets)  # plans show secret fields as fingerprints

    def __init__(self, config: Config, rendered: Rendered, api: Any | None = None) -> None:
        self.config = config
        self.rendered = rendered
        self.url = os.environ.get("TRACKLOG_GRAFANA_URL") or config.endpoints.grafana.url
        self.api = api if api is not None else _connect(config, self.url)
        grafana = config.raw.get("grafana") or {}
        self.folder_uid = grafana.get("folder_uid", "tracklog")
        self.folder_title = grafana.get("folder", "Delivery tracking")
        self.editable = bool(grafana.get("alerts_editable_in_ui", False))
        self.warnings: list[str] = []
        self._team_ids: dict[str, int | None] = {}

    # -- desired ----------------------------------------------------------------------------------------

    def desired(self) -> list[Resource]:
        out = []
        for folder in self._folders():
            out.append(Resource("grafana-folder", folder["uid"], folder["title"], {"title": folder["title"]}))
            if "permissions" in folder:
                out.append(Resource("grafana-folder-permissions", folder["uid"], f"{folder['title']} permissions",
                                    _permissions_body(folder["permissions"])))
        for ds in self.rendered.provisioning.get("datasources", {}).get("datasources", []):
            out.append(Resource("grafana-datasource", ds["uid"], ds["name"], _datasource_body(ds)))
        for file_name, dashboard in self.rendered.dashboards.items():
            body = {**_dashboard_body(dashboard),
                    "folderUid": self.rendered.dashboard_folders.get(file_name, self.folder_uid)}
            out.append(Resource("grafana-dashboard", dashboard["uid"], dashboard["title"], body))
        for template in self.rendered.templates:
            out.append(Resource("grafana-template", template["name"], template["name"],
                                {"template": template["template"]}))
        for point in self.config.raw.get("contact_points") or []:
            body = self._contact_point(point)
            out.append(Resource("grafana-contact-point", body["uid"], point["name"], body))
        for mute in self.config.raw.get("mute_timings") or []:
            out.append(Resource("grafana-mute-timing", mute["name"], mute["name"], _mute_body(mute)))
        out.append(Resource("grafana-policy", "policy-tree", "notification policy tree", self._policy_tree()))
        for group in self.rendered.grafana_alerts:
            folder_uid = group.get("folderUID") or self.folder_uid
            out.append(Resource("grafana-rule-group", _group_uid(folder_uid, group["title"]), group["title"],
                                _group_body(group, folder_uid)))
        return out

    def _contact_point(self, point: dict[str, Any]) -> dict[str, Any]:
        kind = point.get("type", "webhook")
        settings: dict[str, Any] = {}
        if kind in ("webhook", "sms", "slack"):
            settings["url"] = os.environ.get(point.get("url_env", ""), "") or point.get("url", "")
        elif kind == "email":
            settings["addresses"] = ";".join(point.get("addresses") or [])
        grafana_type = {"sms": "webhook"}.get(kind, kind)
        for role, name in (point.get("templates") or {}).items():
            field = TEMPLATE_FIELDS.get(grafana_type, {}).get(role)
            if field:
                settings[field] = f'{{{{ template "{name}" . }}}}'
        return {"uid": CONTACT_PREFIX + re.sub(r"[^a-z0-9-]", "-", point["name"].lower())[:37],
                "name": point["name"], "type": grafana_type, "settings": settings}

    def _policy_tree(self) -> dict[str, Any]:
        policies = self.config.raw.get("notification_policies") or {}
        routes = []
        for child in policies.get("routes") or []:
            route: dict[str, Any] = {"receiver": child["receiver"], "object_matchers": [
                list(re.match(r"\s*(\w+)\s*(=~|!~|!=|=)\s*\"?([^\"]*)\"?", m).groups())  # type: ignore[union-attr]
                for m in child.get("matchers") or []]}
            if child.get("mute_timings"):
                route["mute_time_intervals"] = list(child["mute_timings"])
            routes.append(route)
        return {"receiver": policies.get("default_receiver", "oncall-webhook"),
                "group_by": ["alertname", "service"], "routes": routes}

    # -- live -------------------------------------------------------------------------------------------

    def _folders(self) -> list[dict[str, Any]]:
        return self.rendered.folders or [{"uid": self.folder_uid, "title": self.folder_title}]

    def live(self) -> list[Resource]:
        out = []
        for wanted in self._folders():
            uid = wanted["uid"]
            folder = self._call("GET /api/folders/" + uid, self.api.folder.get_folder, uid, missing_ok=True)
            if not folder:
                continue
            out.append(Resource("grafana-folder", uid, folder["title"], {"title": folder["title"]}))
            if "permissions" in wanted:  # only where tracklog.yaml asks; other folders keep whatever they have
                acl = self._call(f"GET /api/folders/{uid}/permissions", self.api.folder.get_folder_permissions, uid)
                out.append(Resource("grafana-folder-permissions", uid, f"{folder['title']} permissions",
                                    _acl_body(acl or [])))
        folder_uids = {f["uid"] for f in self._folders()}
        for ds in self.rendered.provisioning.get("datasources", {}).get("datasources", []):
            found = self._call(f"GET /api/datasources/uid/{ds['uid']}", self.api.datasource.get_datasource_by_uid,
                               ds["uid"], missing_ok=True)
            if found:
                out.append(Resource("grafana-datasource", found["uid"], found["name"], _datasource_body(found)))
        hits = self._call("GET /api/search?tag=tracklog", self.api.search.search_dashboards, tag=MARKER_TAG) or []
        for hit in hits:
            if hit.get("type") != "dash-db" or hit.get("folderUid") not in folder_uids:
                continue
            found = self._call(f"GET /api/dashboards/uid/{hit['uid']}", self.api.dashboard.get_dashboard, hit["uid"])
            dashboard = found["dashboard"]
            body = {**_dashboard_body(dashboard), "folderUid": hit["folderUid"]}
            out.append(Resource("grafana-dashboard", dashboard["uid"], dashboard["title"], body))
        # Grafana answers an empty list when there are none (some versions 404).
        for template in self._call("GET /api/v1/provisioning/templates", self.api.alertingprovisioning.get_templates,
                                   missing_ok=True) or []:
            if str(template.get("name", "")).startswith(TEMPLATE_PREFIX):
                out.append(Resource("grafana-template", template["name"], template["name"],
                                    {"template": template.get("template", "")}))
        for point in self._call("GET /api/v1/provisioning/contact-points",
                                self.api.alertingprovisioning.get_contactpoints) or []:
            if str(point.get("uid", "")).startswith(CONTACT_PREFIX):
                body = {k: point.get(k) for k in ("uid", "name", "type", "settings")}
                out.append(Resource("grafana-contact-point", point["uid"], point["name"], body))
        wanted_mutes = {m["name"] for m in self.config.raw.get("mute_timings") or []}
        for mute in self._call("GET /api/v1/provisioning/mute-timings",
                               self.api.alertingprovisioning.get_mute_timings) or []:
            if mute["name"] in wanted_mutes:
                out.append(Resource("grafana-mute-timing", mute["name"], mute["name"], _mute_body(mute)))
        tree = self._call("GET /api/v1/provisioning/policies",
                          self.api.alertingprovisioning.get_notification_policy_tree)
        if tree:
            out.append(Resource("grafana-policy", "policy-tree", "notification policy tree", _policy_body(tree)))
        out.extend(self._live_rule_groups(folder_uids))
        return out

    def _live_rule_groups(self, folder_uids: set[str]) -> list[Resource]:
        """Every rule group in tracklog's folders holding a rule of tracklog's, also those Git no longer has.

        The list of all rules names each one's folder and group but not the group's interval, so each group found
        is read whole. A group holding one of tracklog's rules is tracklog's whole, as a PUT replaces it whole.
        """
        prov = self.api.alertingprovisioning
        groups = set()
        for rule in self._call("GET /api/v1/provisioning/alert-rules", prov.get_alertrules_all) or []:
            if rule.get("folderUID") in folder_uids and str(rule.get("uid", "")).startswith(RULE_PREFIX):
                groups.add((rule["folderUID"], rule["ruleGroup"]))
        out = []
        for folder_uid, title in sorted(groups):
            found = self._call(f"GET /api/v1/provisioning/folder/{folder_uid}/rule-groups/{title}",
                               prov.get_rule_group, folder_uid, title, missing_ok=True)
            if found:
                out.append(Resource("grafana-rule-group", _group_uid(folder_uid, title), title,
                                    _group_body(found, folder_uid)))
        return out

    # -- apply ------------------------------------------------------------------------------------------

    def apply(self, change: Change) -> None:
        r = change.resource
        prov = self.api.alertingprovisioning
        lock = not self.editable  # provenance "api" locks alert objects in Grafana's UI
        if change.action == DELETE:
            deleters = {
                "grafana-dashboard": lambda: self.api.dashboard.delete_dashboard(r.uid),
                "grafana-contact-point": lambda: prov.delete_contactpoint(r.uid),
                "grafana-template": lambda: prov.delete_template(r.uid),
                "grafana-mute-timing": lambda: prov.delete_mute_timing(r.uid),
                "grafana-datasource": lambda: self.api.datasource.delete_datasource_by_uid(r.uid),
                "grafana-rule-group": lambda: [prov.delete_alertrule(rule["uid"]) for rule in r.body["rules"]],
                "grafana-folder": lambda: self.api.folder.delete_folder(r.uid),
                "grafana-policy": lambda: prov.delete_notification_policy_tree(),
            }
            self._call(f"delete {r.kind} {r.uid}", deleters[r.kind])
            return
        body = copy.deepcopy(r.body)
        if r.kind == "grafana-datasource":
            body = _resolve(body)
        exists = change.live is not None
        if r.kind == "grafana-folder":
            if exists:
                self._call("PUT folder", self.api.folder.update_folder, r.uid, title=body["title"], overwrite=True)
            else:
                self._call("POST /api/folders", self.api.folder.create_folder, body["title"], uid=r.uid)
        elif r.kind == "grafana-datasource":
            payload = {**body, "uid": r.uid, "name": r.title}
            if exists:
                self._call("PUT datasource", self.api.datasource.update_datasource_by_uid, r.uid, payload)
            else:
                self._call("POST /api/datasources", self.api.datasource.create_datasource, payload)
        elif r.kind == "grafana-folder-permissions":
            items = [self._acl_item(item) for item in body["items"]]
            self._call(f"POST /api/folders/{r.uid}/permissions", self.api.folder.update_folder_permissions, r.uid,
                       items)
        elif r.kind == "grafana-dashboard":
            folder_uid = body.pop("folderUid", self.folder_uid)
            self._call("POST /api/dashboards/db", self.api.dashboard.update_dashboard, {
                "dashboard": {**body, "uid": r.uid, "id": None}, "folderUid": folder_uid, "overwrite": True,
                "message": f"tracklog apply ({_git_revision()})"})
        elif r.kind == "grafana-template":
            self._call(f"PUT /api/v1/provisioning/templates/{r.uid}", prov.create_or_update_template, r.uid, body,
                       disable_provenance=not lock)
        elif r.kind == "grafana-contact-point":
            if exists:
                self._call("PUT contact point", prov.update_contactpoint, r.uid, body, disable_provenance=not lock)
            else:
                self._call("POST contact point", prov.create_contactpoint, body, disable_provenance=not lock)
        elif r.kind == "grafana-mute-timing":
            if exists:
                self._call("PUT mute timing", prov.update_mute_timing, r.uid, body)
            else:
                self._call("POST mute timing", prov.create_mute_timing, body, disable_provenance=not lock)
        elif r.kind == "grafana-policy":
            self._call("PUT policy tree", prov.set_notification_policy_tree, body, disable_provenance=not lock)
        elif r.kind == "grafana-rule-group":
            folder_uid, title = body["folderUid"], body["title"]
            self._call(f"PUT /api/v1/provisioning/folder/{folder_uid}/rule-groups/{title}", prov.update_rule_group,
                       folder_uid, title, body, disable_provenance=not lock)

    def check(self) -> list[str]:
        """Problems found before anything is written: every team a folder is opened to must exist in Grafana."""
        problems = []
        for folder in self._folders():
            for item in folder.get("permissions") or []:
                if "team" in item and self._team_id(item["team"]) is None:
                    problems.append(
                        f"grafana.security_team: Grafana at {self.url} has no team named {item['team']!r}, so folder "
                        f"{folder['uid']} ({folder['title']}) cannot be opened to it; create the team in Grafana "
                        "(Administration > Teams) or name an existing one in tracklog.yaml")
        return problems

    def _team_id(self, name: str) -> int | None:
        if name not in self._team_ids:
            # grafana-client pastes the name into the query string as it is: quote it here.
            teams = self._call(f"GET /api/teams/search?name={name}", self.api.teams.get_team_by_name,
                               quote(name, safe="")) or []
            self._team_ids[name] = next((t["id"] for t in teams if t.get("name") == name), None)
        return self._team_ids[name]

    def _acl_item(self, item: dict[str, str]) -> dict[str, Any]:
        """One permission as POST /api/folders/{uid}/permissions takes it: team and permission by number."""
        entry: dict[str, Any] = {"permission": PERMISSION_LEVELS[item["permission"]]}
        if "team" in item:
            team_id = self._team_id(item["team"])
            if team_id is None:
                raise GrafanaError(f"Grafana at {self.url} has no team named {item['team']!r} (grafana.security_team)")
            entry["teamId"] = team_id
        elif "role" in item:
            entry["role"] = item["role"]
        else:
            raise GrafanaError(f"a folder permission names neither a team nor a role: {item}")
        return entry

    def _call(self, what: str, fn: Any, *args: Any, missing_ok: bool = False, **kwargs: Any) -> Any:
        from grafana_client.client import GrafanaClientError, GrafanaException

        try:
            return fn(*args, **kwargs)
        except GrafanaClientError as exc:
            status = getattr(exc, "status_code", 0)
            if missing_ok and status == 404:
                return None
            hint = {401: f"check the token in ${self.config.endpoints.grafana.token_env}",
                    403: "the token lacks the permission (an Editor or Admin service account is needed)",
                    412: "someone changed it in Grafana meanwhile; run `tracklog plan` again"}.get(status, "")
            raise GrafanaError(f"Grafana at {self.url} answered {status} on {what}: {exc.message}"
                               + (f" — {hint}" if hint else "")) from exc
        except GrafanaException as exc:
            raise GrafanaError(f"Grafana at {self.url} failed on {what}: {exc}") from exc
        except Exception as exc:  # connection refused, DNS, TLS, timeouts
            if type(exc).__module__.startswith(("niquests", "requests", "urllib3", "socket")) or isinstance(
                    exc, OSError):
                raise GrafanaError(f"Grafana at {self.url} is unreachable on {what}: {type(exc).__name__}: {exc}"
                                   " — is the URL right (endpoints.grafana.url / TRACKLOG_GRAFANA_URL)?") from exc
            raise


def _connect(config: Config, url: str) -> Any:
    from grafana_client import GrafanaApi

    endpoint = config.endpoints.grafana
    token = os.environ.get(endpoint.token_env)
    user, password = os.environ.get(endpoint.username_env), os.environ.get(endpoint.password_env)
    credential: Any = token or ((user, password) if user and password else None)
    if credential is None:
        raise GrafanaError(f"no credentials for Grafana at {url}: set ${endpoint.token_env} (a service-account "
                           f"token) or ${endpoint.username_env} and ${endpoint.password_env}")
    return GrafanaApi.from_url(url, credential=credential, timeout=(5, 30))


def _resolve(body: Any) -> Any:
    """Replace a datasource's ${VAR} secret references with the environment's values, on the way to Grafana only.

    Dashboards are never passed through this: ``${var}`` there is Grafana's own template syntax.
    """
    if isinstance(body, str):
        return _ENV_REF.sub(lambda m: os.environ.get(m.group(1), ""), body)
    if isinstance(body, dict):
        return {k: _resolve(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_resolve(v) for v in body]
    return body


def _dashboard_body(dashboard: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in dashboard.items() if k not in _DASHBOARD_NOISE}


def _permissions_body(items: list[dict[str, str]]) -> dict[str, Any]:
    return {"items": sorted((dict(item) for item in items), key=lambda item: sorted(item.items()))}


def _acl_body(acl: list[dict[str, Any]]) -> dict[str, Any]:
    """A folder's permission list as GET /api/folders/{uid}/permissions answers it, by names, for comparison.

    Admins always have access and cannot be listed; inherited entries (a parent folder's) cannot be changed here.
    """
    items = []
    for entry in acl:
        if entry.get("inherited"):
            continue
        if entry.get("teamId"):
            who = {"team": entry.get("team") or f"team id {entry['teamId']}"}
        elif entry.get("userId"):
            who = {"user": entry.get("userLogin") or f"user id {entry['userId']}"}
        elif entry.get("role") and entry["role"] != "Admin":
            who = {"role": entry["role"]}
        else:
            continue
        items.append({**who, "permission": _PERMISSION_NAMES.get(entry.get("permission"),
                                                                 entry.get("permissionName", "?"))})
    return _permissions_body(items)


def _datasource_body(ds: dict[str, Any]) -> dict[str, Any]:
    keep = ("type", "url", "access", "isDefault", "jsonData", "basicAuth", "basicAuthUser")
    return {k: ds[k] for k in keep if ds.get(k) not in (None, "", False, {})}


def _group_uid(folder_uid: str, title: str) -> str:
    """A rule group's resource uid: its title is unique per folder only, and folder uids hold no '/'."""
    return f"{folder_uid}/{title}"


def _group_body(group: dict[str, Any], folder_uid: str) -> dict[str, Any]:
    rules = [{k: v for k, v in rule.items() if k not in _RULE_NOISE} for rule in group.get("rules", [])]
    return {"folderUid": folder_uid, "title": group["title"], "interval": group.get("interval"), "rules": rules}


def _mute_body(mute: dict[str, Any]) -> dict[str, Any]:
    if "time_intervals" in mute:
        return {"name": mute["name"], "time_intervals": mute["time_intervals"]}
    interval: dict[str, Any] = {}
    if mute.get("weekdays"):
        interval["weekdays"] = list(mute["weekdays"])
    if mute.get("times"):
        interval["times"] = [{"start_time": t["start"], "end_time": t["end"]} for t in mute["times"]]
    return {"name": mute["name"], "time_intervals": [interval]}


def _policy_body(tree: dict[str, Any]) -> dict[str, Any]:
    routes = [{k: v for k, v in route.items() if k in ("receiver", "object_matchers", "mute_time_intervals")}
              for route in tree.get("routes") or []]
    return {"receiver": tree.get("receiver"), "group_by": tree.get("group_by"), "routes": routes}


def _git_revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, check=False)
    except OSError:
        return "no git"
    revision = out.stdout.strip() or "no git"
    return revision + ("+dirty" if dirty.stdout.strip() else "")
