"""The look-alike's state and behaviour: what Grafana stores, answers and refuses, each rule with its evidence.

Evidence is cited inline: a Grafana source path (grafana/grafana, read through the project's code search; the
stored versions are not all tagged with a release, so where a behaviour changed the citation says which form is
modelled) or a file of ../shared/grafana-reference (Grafana's own test fixtures, spec and notifier snapshot).
Error bodies follow Grafana's two shapes: ``response.Error`` answers ``{"message": ...}`` (pkg/api/response), and
errutil errors answer ``{"statusCode", "messageId", "message", "extra"}`` (pkg/apimachinery/errutil, Error.Public).

The statuses and the conditions are modelled from the evidence cited; where only the condition was found and not
Grafana's exact wording, the line says "(wording not verified)". tracklog never matches Grafana's message text:
it reports it as Grafana's.
"""

from __future__ import annotations

import copy
import itertools
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.grafana_lookalike import evidence

REDACTED = "[REDACTED]"  # pkg/services/ngalert/api/tooling/definitions: RedactedValue


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body


def plain(status: int, message: str) -> ApiError:
    """pkg/api/response: response.Error(status, message, err) answers {"message": message}."""
    return ApiError(status, {"message": message})


def errutil(status: int, message_id: str, message: str, extra: dict[str, Any] | None = None) -> ApiError:
    """pkg/apimachinery/errutil Error.Public(): {"statusCode", "messageId", "message", "extra"}."""
    return ApiError(status, {"statusCode": status, "messageId": message_id, "message": message,
                             "extra": extra or {}})


def not_found(message: str = "Not Found") -> ApiError:
    return plain(404, message)


# -- durations: prometheus/common model.Duration, which the provisioning API uses for `for`/`keep_firing_for` ----------

_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
_DURATION = re.compile(r"^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")


def parse_duration(text: str) -> float:
    """model.ParseDuration: "0" is zero; units y w d h m s ms, largest first; anything else is an error."""
    if text == "0":
        return 0
    match = _DURATION.match(text or "")
    if not text or not match:
        raise ValueError(f'not a valid duration string: "{text}"')
    seconds = 0.0
    for unit, group in zip(("y", "w", "d", "h", "m", "s", "ms"), (2, 4, 6, 8, 10, 12, 14), strict=True):
        if match.group(group):
            seconds += int(match.group(group)) * _UNITS[unit]
    return seconds


def format_duration(seconds: float) -> str:
    """model.Duration.String(): "0s" for zero, else the largest units without zero parts ("5m", "1h30m", "1d")."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    out = ""
    for unit, size in (("y", 365 * 86400000), ("w", 7 * 86400000), ("d", 86400000), ("h", 3600000),
                       ("m", 60000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            out += f"{ms // size}{unit}"
            ms %= size
    return out


@dataclass
class Version:
    """The behaviours that differ between the Grafana releases modelled."""

    name: str

    @property
    def major(self) -> int:
        return int(self.name.split(".")[0])

    @property
    def keep_firing_for(self) -> bool:
        # Added to ProvisionedAlertRule with Grafana 12.0 (PRs #100750, #103248, "keep_firing_for and Recovering
        # state"); the reference GET fixtures of commit 27f3ba70 carry it, older ones (0cada534) do not.
        return self.major >= 12


@dataclass
class Org:
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    acl: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    teams: dict[str, int] = field(default_factory=dict)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> stored, secrets in "secure"
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> {dashboard, folderUid, provisioned}
    contact_points: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> stored, secrets in clear
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    mutes: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> stored rule (ProvisionedAlertRule form)
    intervals: dict[tuple[str, str], int] = field(default_factory=dict)
    tree: dict[str, Any] = field(default_factory=dict)
    tree_provenance: str = ""


class Grafana:
    """One Grafana org's API, as plain methods taking and returning JSON values (server.py maps them to HTTP)."""

    def __init__(self, version: str = "12.0.0") -> None:
        self.version = Version(version)
        self.org = Org()
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        # A fresh Grafana's default policy tree and contact point: pkg/services/ngalert/notifier/
        # (default Alertmanager configuration: receiver "grafana-default-email", group_by grafana_folder, alertname).
        self.org.contact_points["default-email"] = {
            "uid": "default-email", "name": "grafana-default-email", "type": "email",
            "settings": {"addresses": "<example@email.com>"}, "disableResolveMessage": False, "provenance": ""}
        self.org.tree = {"receiver": "grafana-default-email", "group_by": ["grafana_folder", "alertname"]}

    def next_id(self) -> int:
        return next(self._ids)

    # -- folders ------------------------------------------------------------------------------------------------

    def folder_json(self, uid: str) -> dict[str, Any]:
        f = self.org.folders[uid]
        return {"id": f["id"], "uid": uid, "orgId": 1, "title": f["title"], "url": f"/dashboards/f/{uid}/",
                "hasAcl": False, "canSave": True, "canEdit": True, "canAdmin": True, "canDelete": True,
                "createdBy": "admin", "created": "2026-01-01T00:00:00Z", "updatedBy": "admin",
                "updated": "2026-01-01T00:00:00Z", "version": f["version"]}

    def get_folder(self, uid: str) -> dict[str, Any]:
        if uid not in self.org.folders:
            raise not_found("folder not found")  # pkg/services/folder: ErrFolderNotFound
        return self.folder_json(uid)

    def create_folder(self, body: dict[str, Any]) -> dict[str, Any]:
        uid = body.get("uid") or uuid.uuid4().hex[:14]
        if uid in self.org.folders:
            # pkg/api/folder.go error mapper: 409 with err.Error() (dashboards.ErrFolderWithSameUIDExists).
            raise plain(409, "a folder with the same uid already exists")  # (wording not verified)
        if not body.get("title"):
            raise plain(400, "folder title cannot be empty")  # dashboards.ErrFolderTitleEmpty
        self.org.folders[uid] = {"id": self.next_id(), "title": body["title"], "version": 1}
        # A new folder's permissions: its creator Admin, Editors Edit, Viewers View
        # (pkg/services/folder/folderimpl: the default folder permissions set on create).
        self.org.acl[uid] = [{"userId": 1, "userLogin": "admin", "permission": 4},
                             {"role": "Editor", "permission": 2}, {"role": "Viewer", "permission": 1}]
        return self.folder_json(uid)

    def update_folder(self, uid: str, body: dict[str, Any]) -> dict[str, Any]:
        folder = self.org.folders.get(uid)
        if folder is None:
            raise not_found("folder not found")
        if not body.get("overwrite") and body.get("version") not in (None, folder["version"]):
            raise plain(412, "the folder has been changed by someone else")  # dashboards.ErrFolderVersionMismatch
        folder["title"] = body.get("title") or folder["title"]
        folder["version"] += 1
        return self.folder_json(uid)

    def delete_folder(self, uid: str, force_delete_rules: bool) -> dict[str, Any]:
        if uid not in self.org.folders:
            raise not_found("folder not found")
        if any(r["folderUID"] == uid for r in self.org.rules.values()) and not force_delete_rules:
            # folder service: a folder holding alert rules is deleted only with forceDeleteRules=true
            raise plain(400, "folder contains alert rules")  # (wording not verified)
        title = self.org.folders.pop(uid)["title"]
        self.org.acl.pop(uid, None)
        self.org.dashboards = {k: v for k, v in self.org.dashboards.items() if v["folderUid"] != uid}
        self.org.rules = {k: v for k, v in self.org.rules.items() if v["folderUID"] != uid}
        return {"id": 0, "message": f"Folder {title} deleted", "title": title}

    def get_permissions(self, uid: str) -> list[dict[str, Any]]:
        if uid not in self.org.folders:
            raise not_found("folder not found")
        names = {team_id: name for name, team_id in self.org.teams.items()}
        labels = {1: "View", 2: "Edit", 4: "Admin"}
        # DashboardACLInfoDTO: role is a pointer with omitempty (absent for user and team entries)
        return [{"folderUid": uid, "uid": uid, "title": self.org.folders[uid]["title"], "isFolder": True,
                 "inherited": False, "userId": item.get("userId", 0), "userLogin": item.get("userLogin", ""),
                 "teamId": item.get("teamId", 0), "team": names.get(item.get("teamId"), ""),
                 "permission": item["permission"], "permissionName": labels[item["permission"]],
                 **({"role": item["role"]} if item.get("role") else {})}
                for item in self.org.acl.get(uid, [])]

    def set_permissions(self, uid: str, body: dict[str, Any]) -> dict[str, Any]:
        if uid not in self.org.folders:
            raise not_found("folder not found")
        items = body.get("items") or []
        for item in items:
            # pkg/api/dashboard_permission.go validation of UpdateDashboardACLCommand items.
            if sum(bool(item.get(k)) for k in ("teamId", "userId", "role")) != 1:
                # (wording not verified)
                raise plain(400, "Permission update item needs exactly one of teamId, userId or role")
            if item.get("role") == "Admin":
                raise plain(400, "Cannot remove or change permissions for Admin role")  # (wording not verified)
            if item.get("teamId") and item["teamId"] not in self.org.teams.values():
                raise plain(400, "Team not found")  # (wording not verified)
            if item.get("permission") not in (1, 2, 4):
                raise plain(400, "Invalid permission")  # (wording not verified)
        self.org.acl[uid] = [dict(item) for item in items]
        return {"message": "Folder permissions updated"}

    def search_teams(self, name: str | None) -> dict[str, Any]:
        teams = [{"id": i, "orgId": 1, "name": n, "email": "", "memberCount": 0}
                 for n, i in self.org.teams.items() if name is None or n == name]
        return {"totalCount": len(teams), "teams": teams, "page": 1, "perPage": 1000}

    # -- datasources --------------------------------------------------------------------------------------------

    def datasource_json(self, stored: dict[str, Any]) -> dict[str, Any]:
        """pkg/api/datasources.go convertModelToDtos: secrets never answered, only which are set (secureJsonFields)."""
        out = {k: v for k, v in stored.items() if k != "secure"}
        out["secureJsonFields"] = {k: True for k in stored.get("secure", {})}
        return out

    def _find_datasource(self, uid: str | None = None, name: str | None = None) -> dict[str, Any]:
        for stored in self.org.datasources.values():
            if (uid is not None and stored["uid"] == uid) or (name is not None and stored["name"] == name):
                return stored
        raise not_found("Data source not found")  # pkg/api/datasources.go

    def list_datasources(self) -> list[dict[str, Any]]:
        keep = ("id", "uid", "orgId", "name", "type", "typeName", "access", "url", "user", "database", "basicAuth",
                "isDefault", "jsonData", "readOnly")
        return [{k: ds.get(k) for k in keep if k in ds} for ds in self.org.datasources.values()]

    def get_datasource(self, uid: str | None = None, name: str | None = None) -> dict[str, Any]:
        return self.datasource_json(self._find_datasource(uid=uid, name=name))

    def add_datasource(self, body: dict[str, Any], read_only: bool = False) -> dict[str, Any]:
        uid = body.get("uid") or uuid.uuid4().hex[:14]
        for ds in self.org.datasources.values():
            # pkg/services/datasources: ErrDataSourceNameExists, ErrDataSourceUidExists; 409 with err.Error()
            if ds["name"] == body.get("name"):
                raise plain(409, "data source with the same name already exists")
            if ds["uid"] == uid:
                raise plain(409, "data source with the same uid already exists")
        stored = {"id": self.next_id(), "uid": uid, "orgId": 1, "name": body.get("name", ""),
                  "type": body.get("type", ""), "typeLogoUrl": "", "access": body.get("access", "proxy"),
                  "url": body.get("url", ""), "user": body.get("user", ""), "database": body.get("database", ""),
                  "basicAuth": bool(body.get("basicAuth")), "basicAuthUser": body.get("basicAuthUser", ""),
                  "withCredentials": bool(body.get("withCredentials")), "isDefault": bool(body.get("isDefault")),
                  "jsonData": copy.deepcopy(body.get("jsonData") or {}),
                  "secure": dict(body.get("secureJsonData") or {}), "version": 1, "readOnly": read_only}
        self.org.datasources[uid] = stored
        return {"id": stored["id"], "name": stored["name"], "message": "Datasource added",
                "datasource": self.datasource_json(stored)}

    def update_datasource(self, uid: str, body: dict[str, Any]) -> dict[str, Any]:
        stored = self._find_datasource(uid=uid)
        if stored["readOnly"]:
            raise plain(403, "Cannot update read-only data source")  # pkg/api/datasources.go UpdateDataSourceByUID
        for ds in self.org.datasources.values():
            if ds is not stored and ds["name"] == body.get("name"):
                raise plain(409, "Failed to update datasource: data source with the same name already exists")
        # fillWithSecureJSONData: a stored secret not sent again is kept (pkg/api/datasources.go).
        secure = {**stored["secure"], **(body.get("secureJsonData") or {})}
        for key in ("name", "type", "access", "url", "user", "database", "basicAuthUser"):
            stored[key] = body.get(key, "")
        stored.update(basicAuth=bool(body.get("basicAuth")), isDefault=bool(body.get("isDefault")),
                      withCredentials=bool(body.get("withCredentials")),
                      jsonData=copy.deepcopy(body.get("jsonData") or {}), secure=secure,
                      version=stored["version"] + 1)
        return {"id": stored["id"], "name": stored["name"], "message": "Datasource updated",
                "datasource": self.datasource_json(stored)}

    def delete_datasource(self, uid: str) -> dict[str, Any]:
        stored = self._find_datasource(uid=uid)
        if stored["readOnly"]:
            raise plain(403, "Cannot delete read-only data source")
        del self.org.datasources[stored["uid"]]
        return {"message": "Data source deleted", "id": stored["id"]}

    # -- dashboards ---------------------------------------------------------------------------------------------

    def save_dashboard(self, body: dict[str, Any], provisioned: bool = False) -> dict[str, Any]:
        dashboard = copy.deepcopy(body.get("dashboard") or {})
        uid = dashboard.get("uid") or uuid.uuid4().hex[:14]
        folder_uid = body.get("folderUid") or ""
        if folder_uid and folder_uid not in self.org.folders:
            raise plain(400, "folder not found")  # dashboards.ErrFolderNotFound on save
        existing = self.org.dashboards.get(uid)
        if existing is not None:
            if existing["provisioned"] and not provisioned:
                # dashboards.ErrDashboardCannotSaveProvisionedDashboard (400), pkg/services/dashboards/errors.go
                raise plain(400, "Cannot save provisioned dashboard")
            if not body.get("overwrite") and dashboard.get("version") != existing["dashboard"]["version"]:
                # dashboards.ErrDashboardVersionMismatch: 412 {"status": "version-mismatch", "message": ...}
                raise ApiError(412, {"status": "version-mismatch",
                                     "message": "The dashboard has been changed by someone else"})
        version = existing["dashboard"]["version"] + 1 if existing else 1
        dashboard.update(uid=uid, version=version, id=existing["dashboard"]["id"] if existing else self.next_id())
        self.org.dashboards[uid] = {"dashboard": dashboard, "folderUid": folder_uid, "provisioned": provisioned,
                                    "message": body.get("message", "")}
        slug = re.sub(r"[^a-z0-9]+", "-", str(dashboard.get("title", "")).lower()).strip("-")
        # openapi-subset.json, postDashboardResponse: {id, uid, url, status, version, title (the slug), folderUid}
        return {"id": dashboard["id"], "uid": uid, "url": f"/d/{uid}/{slug}", "status": "success",
                "version": version, "title": slug, "folderUid": folder_uid}

    def get_dashboard(self, uid: str) -> dict[str, Any]:
        stored = self.org.dashboards.get(uid)
        if stored is None:
            raise not_found("Dashboard not found")
        folder = self.org.folders.get(stored["folderUid"], {})
        return {"dashboard": copy.deepcopy(stored["dashboard"]),
                "meta": {"type": "db", "canSave": True, "canEdit": True, "canAdmin": True, "canStar": True,
                         "slug": "", "url": f"/d/{uid}", "version": stored["dashboard"]["version"],
                         "folderUid": stored["folderUid"], "folderTitle": folder.get("title", "General"),
                         "provisioned": stored["provisioned"],
                         "provisionedExternalId": f"{uid}.json" if stored["provisioned"] else ""}}

    def delete_dashboard(self, uid: str) -> dict[str, Any]:
        stored = self.org.dashboards.get(uid)
        if stored is None:
            raise not_found("Dashboard not found")
        if stored["provisioned"]:
            # dashboards.ErrDashboardCannotDeleteProvisionedDashboard
            raise plain(400, "provisioned dashboard cannot be deleted")
        del self.org.dashboards[uid]
        title = stored["dashboard"].get("title", "")
        return {"uid": uid, "title": title, "message": f"Dashboard {title} deleted"}  # deleteDashboardResponse

    def search(self, tags: list[str], kind: str | None, query: str | None) -> list[dict[str, Any]]:
        hits = []
        if kind in (None, "dash-db"):
            for uid, stored in self.org.dashboards.items():
                d = stored["dashboard"]
                if tags and not set(tags) <= set(d.get("tags") or []):
                    continue
                if query and query.lower() not in str(d.get("title", "")).lower():
                    continue
                folder = self.org.folders.get(stored["folderUid"], {})
                hits.append({"id": d["id"], "uid": uid, "title": d.get("title", ""), "uri": f"db/{uid}",
                             "url": f"/d/{uid}", "type": "dash-db", "tags": list(d.get("tags") or []),
                             "isStarred": False, "folderUid": stored["folderUid"],
                             "folderTitle": folder.get("title", ""),
                             "folderUrl": f"/dashboards/f/{stored['folderUid']}/"})
        if kind in (None, "dash-folder") and not tags:
            for uid, f in self.org.folders.items():
                hits.append({"id": f["id"], "uid": uid, "title": f["title"], "uri": f"db/{uid}",
                             "url": f"/dashboards/f/{uid}/", "type": "dash-folder", "tags": [], "isStarred": False})
        return sorted(hits, key=lambda h: str(h["title"]).lower())

    # -- alert rules (provisioning API) --------------------------------------------------------------------------

    def _stored_rule(self, rule: dict[str, Any], folder: str, group: str, provenance: str) -> dict[str, Any]:
        """A rule as Grafana keeps it after PreSave and as ProvisionedAlertRuleFromAlertRule answers it.

        Query defaults (queryType, relativeTimeRange; intervalMs and maxDataPoints in the model) are derived from the
        reference POST/GET pairs (evidence.rule_query_defaults); pkg/services/ngalert/models/alert_query.go
        (PreSave/InitDefaults: defaultMaxDataPoints 43200, defaultIntervalMS 1000) sets them.
        """
        data = []
        for query in rule.get("data") or []:
            stored = {**copy.deepcopy(evidence.rule_query_defaults()), **copy.deepcopy(query)}
            model = dict(stored.get("model") or {})
            for key, value in evidence.rule_query_model_defaults().items():
                if not model.get(key):  # InitDefaults sets them when missing or zero
                    model[key] = value
            model.setdefault("refId", stored.get("refId"))  # rulegroup-1-get.json: the model gains the query's refId
            stored["model"] = model
            if isinstance(model.get("queryType"), str):
                stored["queryType"] = model["queryType"]  # AlertQuery.setQueryType: copied from the model
            data.append(stored)
        out = {
            "id": rule.get("id") or self.next_id(),
            "uid": rule.get("uid") or uuid.uuid4().hex[:14],
            "orgID": 1, "folderUID": folder, "ruleGroup": group, "title": rule["title"],
            "condition": rule["condition"], "data": data, "updated": "2026-01-01T00:00:00Z",
            "noDataState": rule["noDataState"], "execErrState": rule["execErrState"],
            "for": format_duration(parse_duration(rule.get("for") or "0s")),
            "annotations": dict(rule.get("annotations") or {}), "labels": dict(rule.get("labels") or {}),
            "provenance": provenance, "isPaused": bool(rule.get("isPaused")),
            "notification_settings": rule.get("notification_settings"), "record": rule.get("record"),
        }
        if self.version.keep_firing_for:
            out["keep_firing_for"] = format_duration(parse_duration(rule.get("keep_firing_for") or "0s"))
        if rule.get("missingSeriesEvalsToResolve"):
            out["missingSeriesEvalsToResolve"] = rule["missingSeriesEvalsToResolve"]
        return out

    def _validate_rule(self, rule: dict[str, Any]) -> None:
        """pkg/services/ngalert/models/alert_rule.go and the provisioning validation; errors answer 400 on PUT."""
        prefix = "invalid alert rule"
        annotations = rule.get("annotations") or {}
        has_dash, has_panel = "__dashboardUid__" in annotations, "__panelId__" in annotations
        if has_dash != has_panel:
            # SetDashboardAndPanelFromAnnotations, called from calcDelta (provisioning/alert_rules.go)
            raise plain(400, f"{prefix}: both annotations __dashboardUid__ and __panelId__ must be specified")
        if has_panel and not re.fullmatch(r"[+-]?\d+", str(annotations["__panelId__"])):
            raise plain(400, f"{prefix}: annotation __panelId__ must be a valid integer Panel ID")
        if not rule.get("title"):
            raise plain(400, f"{prefix}: title is empty")  # (wording not verified)
        data = rule.get("data") or []
        if not data:
            raise plain(400, f"{prefix}: no queries or expressions are found")  # (wording not verified)
        if rule.get("condition") not in {q.get("refId") for q in data}:
            raise plain(400, f"{prefix}: condition {rule.get('condition')} does not exist, must be one of "
                             f"{[q.get('refId') for q in data]}")
        for key in ("for", "keep_firing_for"):
            try:
                parse_duration(rule.get(key) or "0s")
            except ValueError as exc:
                raise plain(400, f"{prefix}: {exc}") from None
        for query in data:
            span = query.get("relativeTimeRange") or {}
            if query.get("datasourceUid") != "__expr__" and span.get("from", 0) <= span.get("to", 0):
                # alert_query.go: non-expression queries need from > to
                raise plain(400, f"{prefix}: invalid relative time range [From: {span.get('from', 0)}, "
                                 f"To: {span.get('to', 0)}]")
            if query.get("datasourceUid") not in ("__expr__", *self.org.datasources):
                raise plain(400, f"{prefix}: failed to validate query {query.get('refId')}: data source "
                                 f"{query.get('datasourceUid')} not found")

    def group_uids(self, folder: str, group: str) -> list[str]:
        return [uid for uid, r in self.org.rules.items() if (r["folderUID"], r["ruleGroup"]) == (folder, group)]

    def get_rule_group(self, folder: str, group: str) -> dict[str, Any]:
        uids = self.group_uids(folder, group)
        if not uids:
            raise not_found("rule group not found")  # provisioning/alert_rules.go: ErrAlertRuleGroupNotFound -> 404
        rules = []
        for uid in uids:
            rule = copy.deepcopy(self.org.rules[uid])
            rule.pop("provenance", None)  # GetRuleGroup does not fill Provenance (ApiAlertRuleGroupFromAlertRuleGroup)
            rules.append(rule)
        return {"title": group, "folderUid": folder, "interval": self.org.intervals[(folder, group)], "rules": rules}

    def put_rule_group(self, folder: str, group: str, body: dict[str, Any], disable_provenance: bool) -> dict[str, Any]:
        if folder not in self.org.folders:
            raise plain(400, "folder does not exist")  # ReplaceRuleGroup: the folder must exist (wording not verified)
        interval = body.get("interval")
        if not isinstance(interval, int) or interval <= 0 or interval % 10:
            # ValidateRuleGroupInterval with the scheduler's base interval of 10s
            raise plain(400, f"invalid alert rule: interval ({interval}s) should be non-zero and divided exactly "
                             "by scheduler interval: 10")
        rules = body.get("rules") or []
        for rule in rules:
            self._validate_rule(rule)
        titles = [r["title"] for r in rules]
        if len(set(titles)) != len(titles):
            raise plain(400, "invalid alert rule: rule titles must be unique within a group")  # (wording not verified)
        provenance = "" if disable_provenance else "api"
        current = self.group_uids(folder, group)
        for uid in current:
            # validation/provenance.go CanUpdateProvenanceInRuleGroup: same->same, none->any, api->none allowed;
            # file->anything else is refused with 409.
            stored = self.org.rules[uid]["provenance"]
            if stored == "file" and provenance != "file":
                raise errutil(409, "alerting.provenanceMismatch",
                              f"cannot update with provided provenance '{provenance}', needs 'file'")
        sent = {r.get("uid") for r in rules if r.get("uid")}
        for uid in current:
            if uid not in sent:
                del self.org.rules[uid]
        for rule in rules:
            # CalculateChanges (pkg/services/ngalert/store/deltas.go): a uid of another group or folder moves here.
            previous = self.org.rules.pop(rule.get("uid"), None) if rule.get("uid") else None
            stored = self._stored_rule({**rule, "id": previous["id"] if previous else None}, folder, group, provenance)
            self.org.rules[stored["uid"]] = stored
        self.org.intervals[(folder, group)] = interval
        return body  # RoutePutAlertRuleGroup answers the request body back (api_provisioning.go)

    def delete_rule(self, uid: str, disable_provenance: bool) -> None:
        rule = self.org.rules.get(uid)
        if rule is None:
            return  # deleting an absent rule is not an error (204)
        wanted = "" if disable_provenance else "api"
        if rule["provenance"] not in ("", wanted):  # validation/provenance.go: none -> any, same -> same
            raise errutil(409, "alerting.provenanceMismatch",
                          f"cannot delete with provided provenance '{wanted}', needs '{rule['provenance']}'")
        del self.org.rules[uid]

    def list_rules(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(r) for r in self.org.rules.values()]

    # -- contact points -------------------------------------------------------------------------------------------

    def _secure(self, kind: str) -> frozenset[str]:
        return evidence.secure_settings().get(kind, frozenset())

    def contact_point_json(self, stored: dict[str, Any]) -> dict[str, Any]:
        """GET /api/v1/provisioning/contact-points answers secure settings as "[REDACTED]" (contactpoints.go)."""
        out = copy.deepcopy(stored)
        for path in self._secure(stored["type"]):
            holder, key = _walk(out["settings"], path)
            if holder is not None and holder.get(key) not in (None, ""):
                holder[key] = REDACTED
        return out

    def list_contact_points(self, name: str | None) -> list[dict[str, Any]]:
        return [self.contact_point_json(cp) for cp in self.org.contact_points.values()
                if name is None or cp["name"] == name]

    def _check_contact_point(self, body: dict[str, Any]) -> None:
        kind = body.get("type")
        settings = body.get("settings") or {}
        # pkg/services/ngalert/notifier/channels_config and the integrations' own validation: the required settings.
        required = {"webhook": ["url"], "slack": [], "email": ["addresses"]}.get(str(kind), [])
        for key in required:
            if not settings.get(key):
                raise plain(400, f"invalid object specification: failed to validate integration "
                                 f"\"{body.get('name')}\" (UID {body.get('uid')}) of type \"{kind}\": could not find "
                                 f"{key} property in settings")
        if kind == "slack" and not (settings.get("url") or settings.get("token")):
            raise plain(400, "invalid object specification: token must be specified when using the Slack chat API")

    def create_contact_point(self, body: dict[str, Any], disable_provenance: bool) -> dict[str, Any]:
        uid = body.get("uid") or uuid.uuid4().hex[:14]
        if uid in self.org.contact_points:
            existing = self.org.contact_points[uid]
            raise errutil(409, "alerting.notifications.contact-points.uniqueUID",
                          f"Receiver configuration with UID '{uid}' already exists in contact point "
                          f"'{existing['name']}'. Please use unique identifiers for receivers across all contact "
                          "points")
        self._check_contact_point(body)
        stored = {"uid": uid, "name": body.get("name", ""), "type": body["type"],
                  "settings": copy.deepcopy(body.get("settings") or {}),
                  "disableResolveMessage": bool(body.get("disableResolveMessage")),
                  "provenance": "" if disable_provenance else "api"}
        self.org.contact_points[uid] = stored
        return self.contact_point_json(stored)

    def update_contact_point(self, uid: str, body: dict[str, Any], disable_provenance: bool) -> dict[str, Any]:
        stored = self.org.contact_points.get(uid)
        if stored is None:
            raise not_found(f"object not found: contact point with uid '{uid}' not found")
        provenance = "" if disable_provenance else "api"
        if stored["provenance"] not in ("", provenance):
            # contactpoints.go UpdateContactPoint: api -> none is refused, a plain error answered 500
            raise plain(500, f"cannot change provenance from '{stored['provenance']}' to '{provenance}'")
        settings = copy.deepcopy(body.get("settings") or {})
        for path in self._secure(body.get("type", stored["type"])):
            holder, key = _walk(settings, path)
            if holder is not None and holder.get(key) == REDACTED:  # "[REDACTED]" keeps the stored secret
                old_holder, old_key = _walk(stored["settings"], path)
                holder[key] = old_holder.get(old_key) if old_holder else None
        candidate = {**body, "uid": uid, "settings": settings}
        self._check_contact_point(candidate)
        stored.update(name=body.get("name", stored["name"]), type=body.get("type", stored["type"]),
                      settings=settings, disableResolveMessage=bool(body.get("disableResolveMessage")),
                      provenance=provenance)
        return {"message": "contactpoint updated"}

    def delete_contact_point(self, uid: str) -> None:
        stored = self.org.contact_points.get(uid)
        if stored is not None:
            if stored["name"] in _receivers(self.org.tree):
                raise errutil(409, "alerting.notifications.contact-points.used",
                              "Contact point is currently referenced by a notification policy.")
            del self.org.contact_points[uid]
        return None  # 202 with no body (openapi-subset.json, DELETE /v1/provisioning/contact-points/{UID})

    # -- notification policies, mute timings, templates -----------------------------------------------------------

    def _relaxed_provenance(self, stored: str, wanted: str) -> None:
        """validation/provenance.go ValidateProvenanceRelaxed: nothing with a provenance goes back to none (403)."""
        if stored not in ("", wanted) and wanted == "":
            raise errutil(403, "alerting.notifications.invalidProvenance",
                          f"Resource with provenance status '{stored}' cannot be managed via API that handles "
                          "resources with provenance status 'none'. You must use appropriate API to manage this "
                          "resource")

    def get_policy_tree(self) -> dict[str, Any]:
        tree = copy.deepcopy(self.org.tree)
        if self.org.tree_provenance:
            tree["provenance"] = self.org.tree_provenance  # the root gets the stored provenance, omitted when none
        return tree

    def set_policy_tree(self, body: dict[str, Any], disable_provenance: bool) -> dict[str, Any]:
        wanted = "" if disable_provenance else "api"
        self._relaxed_provenance(self.org.tree_provenance, wanted)
        names = {cp["name"] for cp in self.org.contact_points.values()}
        for receiver in _receivers(body):
            if receiver not in names:  # notification_policies.go: every receiver must exist
                raise plain(400, f"invalid object specification: receiver '{receiver}' does not exist")
        for mute in _mutes(body):
            if mute not in self.org.mutes:
                raise plain(400, f"invalid object specification: mute time interval '{mute}' does not exist")
        self.org.tree = {k: v for k, v in copy.deepcopy(body).items() if k != "provenance"}
        self.org.tree_provenance = wanted
        return {"message": "policies updated"}

    def reset_policy_tree(self) -> dict[str, Any]:
        self.org.tree = {"receiver": "grafana-default-email", "group_by": ["grafana_folder", "alertname"]}
        self.org.tree_provenance = ""
        return {"message": "policies resetted"}

    def list_mutes(self) -> list[dict[str, Any]]:
        return [self._mute_json(m) for m in self.org.mutes.values()]

    def _mute_json(self, stored: dict[str, Any]) -> dict[str, Any]:
        out = {"name": stored["name"], "time_intervals": copy.deepcopy(stored["time_intervals"]),
               "version": stored["version"]}
        if stored["provenance"]:
            out["provenance"] = stored["provenance"]
        return out

    def put_mute(self, name: str | None, body: dict[str, Any], disable_provenance: bool) -> dict[str, Any]:
        wanted = "" if disable_provenance else "api"
        if name is None:  # POST
            if body.get("name") in self.org.mutes:
                raise errutil(409, "alerting.notifications.time-intervals.nameExists",
                              "Time interval with this name already exists. Use a different name or update "
                              "existing one.")
        else:
            if name not in self.org.mutes:
                raise not_found("Time interval not found")
            self._relaxed_provenance(self.org.mutes[name]["provenance"], wanted)
        key = name or body["name"]
        version = uuid.uuid4().hex[:16]
        self.org.mutes[key] = {"name": key, "time_intervals": copy.deepcopy(body.get("time_intervals") or []),
                               "provenance": wanted, "version": version}
        return self._mute_json(self.org.mutes[key])

    def delete_mute(self, name: str) -> None:
        if name in _mutes(self.org.tree):
            raise errutil(409, "alerting.notifications.time-intervals.used",
                          "Time interval is used by notification policies", {"UsedByRoutes": True})
        self.org.mutes.pop(name, None)

    def list_templates(self) -> list[dict[str, Any]]:
        return [dict(t) for t in self.org.templates.values()]  # [] when none (templates.go: make(..., 0))

    def put_template(self, name: str, body: dict[str, Any], disable_provenance: bool) -> dict[str, Any]:
        wanted = "" if disable_provenance else "api"
        if name in self.org.templates:
            self._relaxed_provenance(self.org.templates[name]["provenance"], wanted)
        # NotificationTemplate.Validate: TrimSpace, and a text without {{ define }} is indented by two spaces and
        # wrapped in {{ define "<name>" }} ... {{ end }}.
        text = str(body.get("template", "")).strip()
        if not text:
            raise plain(400, "invalid object specification: template must have content")  # (wording not verified)
        if not re.search(r"\{\{-?\s*define", text):
            indented = text.replace("\n", "\n  ")
            text = f'{{{{ define "{name}" }}}}\n  {indented}\n{{{{ end }}}}'
        stored = {"name": name, "template": text, "provenance": wanted, "version": uuid.uuid4().hex[:16]}
        self.org.templates[name] = stored
        return dict(stored)

    def delete_template(self, name: str) -> None:
        self.org.templates.pop(name, None)


def _walk(settings: dict[str, Any], path: str) -> tuple[dict[str, Any] | None, str]:
    """The dict holding a dotted setting path, and the last key (None when a parent is missing)."""
    *parents, key = path.split(".")
    holder: Any = settings
    for part in parents:
        holder = holder.get(part) if isinstance(holder, dict) else None
    return (holder if isinstance(holder, dict) else None), key


def _receivers(route: dict[str, Any]) -> set[str]:
    found = {route["receiver"]} if route.get("receiver") else set()
    for child in route.get("routes") or []:
        found |= _receivers(child)
    return found


def _mutes(route: dict[str, Any]) -> set[str]:
    found = set(route.get("mute_time_intervals") or []) | set(route.get("active_time_intervals") or [])
    for child in route.get("routes") or []:
        found |= _mutes(child)
    return found
