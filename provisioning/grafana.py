"""Grafana as a target: the only module that imports grafana-client. Reads live state and applies one change.

Managed objects carry a marker so that apply can prune what Git removed and leave everything else alone:
dashboards the tag ``tracklog`` (in tracklog's folder), contact points a uid starting ``tl-``, rule groups
tracklog's folder. The notification policy tree is one object in Grafana and is managed whole, as Terraform does.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
from typing import Any

from provisioning.config import Config
from provisioning.errors import TracklogError
from provisioning.plan import DELETE, Change, Resource
from provisioning.render import Rendered
from provisioning.secrets import hide_secrets

KIND_ORDER = ("grafana-folder", "grafana-datasource", "grafana-dashboard", "grafana-contact-point",
              "grafana-mute-timing", "grafana-policy", "grafana-rule-group")
MARKER_TAG = "tracklog"
CONTACT_PREFIX = "tl-"
_DASHBOARD_NOISE = ("id", "version", "iteration")
_RULE_NOISE = ("id", "updated", "provenance", "orgID", "folderUID", "ruleGroup", "notification_settings", "record",
               "isPaused")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class GrafanaError(TracklogError):
    """Grafana answered with an error or not at all; the message names the URL, the request and what to do."""


class GrafanaTarget:
    name = "grafana"
    KIND_ORDER = KIND_ORDER

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

    # -- desired ----------------------------------------------------------------------------------------

    def desired(self) -> list[Resource]:
        out = [Resource("grafana-folder", self.folder_uid, self.folder_title, {"title": self.folder_title})]
        for ds in self.rendered.provisioning.get("datasources", {}).get("datasources", []):
            out.append(Resource("grafana-datasource", ds["uid"], ds["name"], _datasource_body(ds)))
        for dashboard in self.rendered.dashboards.values():
            out.append(Resource("grafana-dashboard", dashboard["uid"], dashboard["title"], _dashboard_body(dashboard)))
        for point in self.config.raw.get("contact_points") or []:
            body = self._contact_point(point)
            out.append(Resource("grafana-contact-point", body["uid"], point["name"], body))
        for mute in self.config.raw.get("mute_timings") or []:
            out.append(Resource("grafana-mute-timing", mute["name"], mute["name"], _mute_body(mute)))
        out.append(Resource("grafana-policy", "policy-tree", "notification policy tree", self._policy_tree()))
        for group in self.rendered.grafana_alerts:
            out.append(Resource("grafana-rule-group", group["title"], group["title"], _group_body(group)))
        return out

    def _contact_point(self, point: dict[str, Any]) -> dict[str, Any]:
        kind = point.get("type", "webhook")
        settings: dict[str, Any] = {}
        if kind in ("webhook", "sms", "slack"):
            settings["url"] = os.environ.get(point.get("url_env", ""), "") or point.get("url", "")
        elif kind == "email":
            settings["addresses"] = ";".join(point.get("addresses") or [])
        grafana_type = {"sms": "webhook"}.get(kind, kind)
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

    def live(self) -> list[Resource]:
        out = []
        folder = self._call("GET /api/folders/" + self.folder_uid, self.api.folder.get_folder, self.folder_uid,
                            missing_ok=True)
        if folder:
            out.append(Resource("grafana-folder", self.folder_uid, folder["title"], {"title": folder["title"]}))
        for ds in self.rendered.provisioning.get("datasources", {}).get("datasources", []):
            found = self._call(f"GET /api/datasources/uid/{ds['uid']}", self.api.datasource.get_datasource_by_uid,
                               ds["uid"], missing_ok=True)
            if found:
                out.append(Resource("grafana-datasource", found["uid"], found["name"], _datasource_body(found)))
        hits = self._call("GET /api/search?tag=tracklog", self.api.search.search_dashboards, tag=MARKER_TAG) or []
        for hit in hits:
            if hit.get("type") != "dash-db" or hit.get("folderUid") != self.folder_uid:
                continue
            found = self._call(f"GET /api/dashboards/uid/{hit['uid']}", self.api.dashboard.get_dashboard, hit["uid"])
            dashboard = found["dashboard"]
            out.append(Resource("grafana-dashboard", dashboard["uid"], dashboard["title"], _dashboard_body(dashboard)))
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
        for group in self.rendered.grafana_alerts:
            found = self._call(f"GET rule group {group['title']}", self.api.alertingprovisioning.get_rule_group,
                               self.folder_uid, group["title"], missing_ok=True)
            if found:
                out.append(Resource("grafana-rule-group", group["title"], group["title"], _group_body(found)))
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
        elif r.kind == "grafana-dashboard":
            self._call("POST /api/dashboards/db", self.api.dashboard.update_dashboard, {
                "dashboard": {**body, "uid": r.uid, "id": None}, "folderUid": self.folder_uid, "overwrite": True,
                "message": f"tracklog apply ({_git_revision()})"})
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
            self._call("PUT rule group", prov.update_rule_group, self.folder_uid, r.uid,
                       {**body, "folderUid": self.folder_uid}, disable_provenance=not lock)

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


def _datasource_body(ds: dict[str, Any]) -> dict[str, Any]:
    keep = ("type", "url", "access", "isDefault", "jsonData", "basicAuth", "basicAuthUser")
    return {k: ds[k] for k in keep if ds.get(k) not in (None, "", False, {})}


def _group_body(group: dict[str, Any]) -> dict[str, Any]:
    rules = [{k: v for k, v in rule.items() if k not in _RULE_NOISE} for rule in group.get("rules", [])]
    return {"title": group["title"], "interval": group.get("interval"), "rules": rules}


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
