"""Grafana as a target: reads live state and applies one change (grafana-client is imported only in this package).

Managed objects carry a marker so that apply can prune what Git removed and leave everything else alone:
dashboards the tag ``tracklog`` (in tracklog's folders), contact points a uid starting ``tl-``, notification
template groups a name starting ``tracklog``, rule groups a rule whose uid starts ``tl-`` (in tracklog's folders).
The notification policy tree is one object in Grafana and is managed whole, as Terraform does; so is a folder's
permission list, which Grafana only replaces whole (POST /api/folders/{uid}/permissions), and so is a rule group,
which PUT /api/v1/provisioning/folder/{folder}/rule-groups/{title} replaces whole.

Objects Grafana provisions from files (a datasource with ``readOnly``, a dashboard with ``meta.provisioned``, an
alerting object with provenance ``file``, as docker-compose sets them up) are never written: the plan says whether
they match what tracklog renders, and apply leaves them alone.
"""

from __future__ import annotations

import copy
import os
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

from provisioning.config import Config
from provisioning.grafana import normalize
from provisioning.grafana.api import GrafanaError, call, connect
from provisioning.grafana.applied import AppliedSecrets
from provisioning.grafana.explain import dashboard_changes
from provisioning.grafana.notifications import (
    CONTACT_PREFIX,
    SECURE_SETTINGS,
    TEMPLATE_FIELDS,
    contact_uid,
    mute_timing,
    mute_view,
    policy_tree,
    policy_view,
)
from provisioning.grafana.permissions import Teams, acl_body, permissions_body
from provisioning.grafana.secretbodies import SecretBodies
from provisioning.markers import MARKER_TAG, PERMISSION_LEVELS, RULE_PREFIX, TEMPLATE_PREFIX
from provisioning.plan import DELETE, UPDATE, Change, Resource
from provisioning.render import Rendered
from provisioning.secrets import hide_secrets

__all__ = ["CONTACT_PREFIX", "KIND_ORDER", "PERMISSION_LEVELS", "RULE_PREFIX", "TEMPLATE_FIELDS", "TEMPLATE_PREFIX",
           "GrafanaError", "GrafanaTarget"]

# A folder's permissions come right after the folder, so the security dashboards never sit in a folder that is
# still open to every Viewer; templates come before the contact points that use them.
KIND_ORDER = ("grafana-folder", "grafana-folder-permissions", "grafana-datasource", "grafana-dashboard",
              "grafana-template", "grafana-contact-point", "grafana-mute-timing", "grafana-policy",
              "grafana-rule-group")
# A rule group that moves to another folder is deleted in the old one first: Grafana's PUT of the new group would
# take the rules over by their uids (unique in the org), and deleting the old group after it would delete them.
DELETE_FIRST = ("grafana-rule-group",)
_PERMISSION_NAMES = {level: name for name, level in PERMISSION_LEVELS.items()}
REDACTED = "[REDACTED]"  # what Grafana answers for a secure setting (definitions.RedactedValue)
_LOCKABLE = ("grafana-template", "grafana-contact-point", "grafana-mute-timing", "grafana-policy")


class GrafanaTarget:
    name = "grafana"
    KIND_ORDER = KIND_ORDER
    DELETE_FIRST = DELETE_FIRST

    display = staticmethod(hide_secrets)  # plans show secret fields as fingerprints

    def __init__(self, config: Config, rendered: Rendered, api: Any | None = None, url: str | None = None,
                 state_dir: Path | None = None) -> None:
        self.config = config
        self.rendered = rendered
        self.settings = config.grafana
        endpoint = config.endpoints.grafana
        self.url = url or os.environ.get("TRACKLOG_GRAFANA_URL") or endpoint.url
        self.token_env = endpoint.token_env
        self.api = api if api is not None else connect(self.url, endpoint.token_env, endpoint.username_env,
                                                       endpoint.password_env)
        self.folder_uid = self.settings.folder_uid
        self.editable = self.settings.alerts_editable_in_ui
        self.applied = AppliedSecrets(state_dir or config.stack.state_dir, self.url)
        self.warnings: list[str] = []
        self.teams = Teams(self.api, self._call, self.url)
        self.secret_bodies = SecretBodies(self.applied)  # resolved secrets, their fingerprints, unset variables
        self._provenance: dict[tuple[str, str], str] = {}
        self._groups: dict[str, dict[str, Any]] = {}  # resource uid -> the rendered group, as it is sent

    def _call(self, what: str, fn: Any, *args: Any, missing_ok: bool = False, **kwargs: Any) -> Any:
        return call(self.url, self.token_env, what, fn, *args, missing_ok=missing_ok, **kwargs)

    # -- desired ----------------------------------------------------------------------------------------

    def desired(self) -> list[Resource]:
        self.secret_bodies.unset = []
        out = []
        for folder in self._folders():
            out.append(Resource("grafana-folder", folder["uid"], folder["title"], {"title": folder["title"]}))
            if "permissions" in folder:
                out.append(Resource("grafana-folder-permissions", folder["uid"], f"{folder['title']} permissions",
                                    permissions_body(folder["permissions"])))
        for ds in self._datasources():
            out.append(Resource("grafana-datasource", ds["uid"], ds["name"], self.secret_bodies.datasource(ds)))
        for file_name, dashboard in self.rendered.dashboards.items():
            body = {**normalize.dashboard(dashboard),
                    "folderUid": self.rendered.dashboard_folders.get(file_name, self.folder_uid)}
            out.append(Resource("grafana-dashboard", dashboard["uid"], dashboard["title"], body))
        for template in self.rendered.templates:
            out.append(Resource("grafana-template", template["name"], template["name"],
                                {"template": template["template"]}))
        model = self.config.notifications
        for point in model.contact_points:
            out.append(Resource("grafana-contact-point", contact_uid(point), point.name,
                                self.secret_bodies.contact_point(point)))
        for mute in model.mute_timings:
            out.append(Resource("grafana-mute-timing", mute.name, mute.name, mute_view(mute_timing(mute))))
        if model.contact_points:  # without contact points the tree would route to nothing: Grafana's stays
            out.append(Resource("grafana-policy", "policy-tree", "notification policy tree",
                                policy_view(policy_tree(model))))
        for group in self.rendered.grafana_alerts:
            folder_uid = group.get("folderUID") or self.folder_uid
            uid = _group_uid(folder_uid, group["title"])
            self._groups[uid] = group
            out.append(Resource("grafana-rule-group", uid, group["title"], normalize.rule_group(group, folder_uid)))
        return out

    def _datasources(self) -> list[dict[str, Any]]:
        return self.rendered.provisioning.get("datasources", {}).get("datasources", [])

    # -- live -------------------------------------------------------------------------------------------

    def _folders(self) -> list[dict[str, Any]]:
        return self.rendered.folders or [{"uid": self.folder_uid, "title": self.settings.folder}]

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
                                    acl_body(acl or [])))
        folder_uids = {f["uid"] for f in self._folders()}
        for ds in self._datasources():
            found = self._call(f"GET /api/datasources/uid/{ds['uid']}", self.api.datasource.get_datasource_by_uid,
                               ds["uid"], missing_ok=True)
            if found:
                body = normalize.datasource(found)
                fields = sorted(k for k, is_set in (found.get("secureJsonFields") or {}).items() if is_set)
                if fields or (ds.get("secureJsonData")):
                    body["secureJsonFields"] = {
                        k: self.applied.recorded(f"grafana-datasource/{found['uid']}/secureJsonData.{k}")
                        for k in fields}
                out.append(Resource("grafana-datasource", found["uid"], found["name"], body,
                                    origin="file" if found.get("readOnly") else ""))
        hits = self._call("GET /api/search?tag=tracklog", self.api.search.search_dashboards, tag=MARKER_TAG) or []
        for hit in hits:
            if hit.get("type") != "dash-db" or hit.get("folderUid") not in folder_uids:
                continue
            found = self._call(f"GET /api/dashboards/uid/{hit['uid']}", self.api.dashboard.get_dashboard, hit["uid"])
            dashboard = found["dashboard"]
            body = {**normalize.dashboard(dashboard), "folderUid": hit["folderUid"]}
            provisioned = bool((found.get("meta") or {}).get("provisioned"))
            out.append(Resource("grafana-dashboard", dashboard["uid"], dashboard["title"], body,
                                origin="file" if provisioned else ""))
        for template in self._call("GET /api/v1/provisioning/templates", self.api.alertingprovisioning.get_templates,
                                   missing_ok=True) or []:
            if str(template.get("name", "")).startswith(TEMPLATE_PREFIX):
                out.append(self._lockable("grafana-template", template["name"], template["name"],
                                          {"template": template.get("template", "")}, template.get("provenance")))
        for point in self._call("GET /api/v1/provisioning/contact-points",
                                self.api.alertingprovisioning.get_contactpoints) or []:
            if str(point.get("uid", "")).startswith(CONTACT_PREFIX):
                out.append(self._lockable("grafana-contact-point", point["uid"], point["name"],
                                          self._live_contact_point(point), point.get("provenance")))
        wanted_mutes = {m.name for m in self.config.notifications.mute_timings}
        for mute in self._call("GET /api/v1/provisioning/mute-timings",
                               self.api.alertingprovisioning.get_mute_timings) or []:
            if mute["name"] in wanted_mutes:
                out.append(self._lockable("grafana-mute-timing", mute["name"], mute["name"], mute_view(mute),
                                          mute.get("provenance")))
        tree = self._call("GET /api/v1/provisioning/policies",
                          self.api.alertingprovisioning.get_notification_policy_tree)
        if tree and self.config.notifications.contact_points:
            out.append(self._lockable("grafana-policy", "policy-tree", "notification policy tree", policy_view(tree),
                                      tree.get("provenance")))
        out.extend(self._live_rule_groups(folder_uids))
        return out

    def _lockable(self, kind: str, uid: str, title: str, body: Any, provenance: str | None) -> Resource:
        """An alerting object with its provenance: "file" ones are the provisioning files', never written here."""
        self._provenance[(kind, uid)] = provenance or ""
        return Resource(kind, uid, title, body, origin="file" if provenance == "file" else "")

    def _live_contact_point(self, point: dict[str, Any]) -> dict[str, Any]:
        body = {"uid": point["uid"], "name": point["name"], "type": point["type"],
                "settings": copy.deepcopy(point.get("settings") or {}),
                "disableResolveMessage": bool(point.get("disableResolveMessage"))}
        for key in SECURE_SETTINGS.get(point["type"], ()):
            value = body["settings"].get(key)
            if value == REDACTED:
                body["settings"][key] = self.applied.recorded(f"grafana-contact-point/{point['uid']}/settings.{key}")
            elif value in (None, ""):
                body["settings"].pop(key, None)
        return body

    def _live_rule_groups(self, folder_uids: set[str]) -> list[Resource]:
        """Every rule group in tracklog's folders holding a rule of tracklog's, also those Git no longer has.

        The list of all rules names each one's folder, group and provenance but not the group's interval, so each
        group found is read whole. A group holding one of tracklog's rules is tracklog's whole, as a PUT replaces it.
        """
        prov = self.api.alertingprovisioning
        groups: dict[tuple[str, str], str] = {}
        for rule in self._call("GET /api/v1/provisioning/alert-rules", prov.get_alertrules_all) or []:
            if rule.get("folderUID") in folder_uids and str(rule.get("uid", "")).startswith(RULE_PREFIX):
                groups[(rule["folderUID"], rule["ruleGroup"])] = rule.get("provenance") or ""
        out = []
        for (folder_uid, title), provenance in sorted(groups.items()):
            found = self._call(f"GET /api/v1/provisioning/folder/{folder_uid}/rule-groups/{title}",
                               prov.get_rule_group, folder_uid, title, missing_ok=True)
            if found:
                out.append(self._lockable("grafana-rule-group", _group_uid(folder_uid, title), title,
                                          normalize.rule_group(found, folder_uid), provenance))
        return out

    # -- checks and explanations ------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Problems found before anything is written: teams, unset secrets, names Grafana already gives others."""
        problems = []
        if not self.secret_bodies.values and not self.secret_bodies.unset:
            self.desired()
        problems.extend(f"grafana: {what}" for what in self.secret_bodies.unset)
        for folder in self._folders():
            for item in folder.get("permissions") or []:
                if "team" in item and self.teams.team_id(item["team"]) is None:
                    problems.append(
                        f"grafana.security_team: Grafana at {self.url} has no team named {item['team']!r}, so folder "
                        f"{folder['uid']} ({folder['title']}) cannot be opened to it; create the team in Grafana "
                        "(Administration > Teams) or name an existing one in tracklog.yaml")
        wanted = {ds["name"]: ds for ds in self._datasources()}
        existing = self._call("GET /api/datasources", self.api.datasource.list_datasources) or []
        for ds in existing:
            ours = wanted.get(ds.get("name"))
            if ours is not None and ds.get("uid") != ours["uid"]:
                problems.append(
                    f"grafana: Grafana at {self.url} already has a datasource named {ds['name']!r} (uid {ds['uid']}, "
                    f"type {ds.get('type')}) that is not tracklog's (uid {ours['uid']}): Grafana refuses a second "
                    "one by that name (409). Rename or delete that one in Grafana (Connections > Data sources), or "
                    "give tracklog's another name (datasources in tracklog.yaml); dashboards refer to "
                    f"uid {ours['uid']}, so it cannot simply be adopted")
        return problems

    def notes(self, changes: list[Change]) -> None:
        """Warnings about objects Grafana will not let tracklog change as tracklog.yaml asks."""
        for change in changes:
            r = change.resource
            if r.kind in _LOCKABLE and change.action == UPDATE and self.editable \
                    and self._provenance.get(r.key) == "api":
                self.warnings.append(
                    f"{r.kind} {r.uid}: alerts_editable_in_ui is true, but Grafana keeps provisioned objects locked "
                    "(provenance api -> none is refused, ngalert/provisioning/validation/provenance.go); it stays "
                    "locked: delete it in Grafana and apply again to re-create it editable")

    def explain(self, change: Change) -> list[str]:
        return dashboard_changes(change)

    # -- apply ------------------------------------------------------------------------------------------

    def _lock(self, key: tuple[str, str]) -> bool:
        """Whether to write with provenance "api" (locked in the UI). Grafana refuses api -> none for contact
        points, templates, mute timings and policies, so what is locked stays locked."""
        return not self.editable or self._provenance.get(key) == "api"

    def apply(self, change: Change) -> None:
        r = change.resource
        prov = self.api.alertingprovisioning
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
        exists = change.live is not None
        lock = self._lock(r.key)
        secrets = self.secret_bodies.values.get(r.key, {})
        if r.kind == "grafana-folder":
            if exists:
                self._call(f"PUT /api/folders/{r.uid}", self.api.folder.update_folder, r.uid, title=body["title"],
                           overwrite=True)
            else:
                self._call("POST /api/folders", self.api.folder.create_folder, body["title"], uid=r.uid)
        elif r.kind == "grafana-datasource":
            body.pop("secureJsonFields", None)
            payload = {**body, "uid": r.uid, "name": r.title}
            if secrets:
                payload["secureJsonData"] = {path.split(".", 1)[1]: value for path, value in secrets.items()}
            if exists:
                self._call(f"PUT /api/datasources/uid/{r.uid}", self.api.datasource.update_datasource_by_uid, r.uid,
                           payload)
            else:
                self._call("POST /api/datasources", self.api.datasource.create_datasource, payload)
        elif r.kind == "grafana-folder-permissions":
            items = [self.teams.acl_item(item) for item in body["items"]]
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
            for path, value in secrets.items():
                body["settings"][path.split(".", 1)[1]] = value
            if exists:
                self._call(f"PUT /api/v1/provisioning/contact-points/{r.uid}", prov.update_contactpoint, r.uid, body,
                           disable_provenance=not lock)
            else:
                self._call("POST /api/v1/provisioning/contact-points", prov.create_contactpoint, body,
                           disable_provenance=not lock)
        elif r.kind == "grafana-mute-timing":
            if exists:  # grafana-client's update_mute_timing cannot send X-Disable-Provenance
                headers = {} if lock else {"X-Disable-Provenance": "true"}
                self._call(f"PUT /api/v1/provisioning/mute-timings/{r.uid}", self.api.client.PUT,
                           f"/v1/provisioning/mute-timings/{quote(r.uid, safe='')}", json=body, headers=headers)
            else:
                self._call("POST /api/v1/provisioning/mute-timings", prov.create_mute_timing, body,
                           disable_provenance=not lock)
        elif r.kind == "grafana-policy":
            self._call("PUT /api/v1/provisioning/policies", prov.set_notification_policy_tree,
                       policy_tree(self.config.notifications), disable_provenance=not lock)
        elif r.kind == "grafana-rule-group":
            group = self._groups[r.uid]
            folder_uid, title = body["folderUid"], body["title"]
            payload = {"title": title, "folderUid": folder_uid, "interval": group["interval"],
                       "rules": [{**rule, "orgID": 1, "folderUID": folder_uid, "ruleGroup": title}
                                 for rule in group["rules"]]}
            self._call(f"PUT /api/v1/provisioning/folder/{folder_uid}/rule-groups/{title}", prov.update_rule_group,
                       folder_uid, title, payload, disable_provenance=not lock)
        self.applied.record({f"{r.kind}/{r.uid}/{path}": value for path, value in secrets.items()})

def _group_uid(folder_uid: str, title: str) -> str:
    """A rule group's resource uid: its title is unique per folder only, and folder uids hold no '/'."""
    return f"{folder_uid}/{title}"


def _git_revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, check=False)
    except OSError:
        return "no git"
    revision = out.stdout.strip() or "no git"
    return revision + ("+dirty" if dirty.stdout.strip() else "")

