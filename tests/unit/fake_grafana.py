"""A plain in-memory stand-in for the part of grafana-client's GrafanaApi that provisioning/grafana.py uses.

It exists only to test tracklog's own logic (plan, order, prune, folder permissions, templates): no Grafana process
can run on our machines (see README), and tests/integration/test_grafana.py runs the same paths against a real one.
Where Grafana changes what it is given, the fake does the same, so that a test comparing a plan after an apply
fails the way a real round trip would: a new folder gets Grafana's default permissions (its creator Admin, the
Editor and Viewer roles Edit and View), a template's text is stored trimmed, a permission list is replaced
whole and refused for an unknown team or the Admin role, and alert rules are one store keyed by uid (unique in the
org), grouped by folder and group: a PUT replaces a group whole and takes over a rule of another group or folder
by its uid (Grafana moves it: pkg/services/ngalert/store/deltas.go, CalculateChanges), a group lives as long as it
has rules, and deleting a rule by uid is idempotent.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from urllib.parse import unquote

_NAMES = {1: "View", 2: "Edit", 4: "Admin"}


def _not_found(what: str = "not found") -> Exception:
    from grafana_client.client import GrafanaClientError

    return GrafanaClientError(404, None, what)


def _bad_request(what: str) -> Exception:
    from grafana_client.client import GrafanaClientError

    return GrafanaClientError(400, None, what)


class FakeGrafana:
    """Grafana's HTTP API as dictionaries: just enough state for plan -> apply -> plan."""

    def __init__(self, teams: dict[str, int] | None = None) -> None:
        self.folders: dict[str, dict] = {}
        self.acl: dict[str, list[dict]] = {}  # folder uid -> managed permissions, as POST stores them
        self.teams_by_name: dict[str, int] = dict(teams or {})
        self.datasources: dict[str, dict] = {}
        self.dashboards: dict[str, dict] = {}
        self.contact_points: dict[str, dict] = {}
        self.templates: dict[str, dict] = {}
        self.mutes: dict[str, dict] = {}
        self.rules: dict[str, dict] = {}  # rule uid -> the rule as Grafana answers it, with folderUID and ruleGroup
        self.intervals: dict[tuple[str, str], int] = {}  # (folder uid, group title) -> the group's interval
        self.tree: dict = {"receiver": "grafana-default-email", "group_by": ["grafana_folder"], "routes": []}
        self.messages: list[str] = []
        self.writes: list[str] = []  # every call that changes something, in order
        self.folder = SimpleNamespace(
            get_folder=lambda uid: self._get(self.folders, uid),
            create_folder=self._create_folder,
            update_folder=lambda uid, title=None, overwrite=False: self._write(
                f"update folder {uid}", lambda: self.folders[uid].update(title=title)),
            delete_folder=lambda uid: self._delete(f"delete folder {uid}", self.folders, uid),
            get_folder_permissions=self._get_permissions,
            update_folder_permissions=self._set_permissions)
        self.teams = SimpleNamespace(get_team_by_name=self._team_by_name)
        self.datasource = SimpleNamespace(
            get_datasource_by_uid=lambda uid: self._get(self.datasources, uid),
            create_datasource=lambda ds: self._write(
                f"create datasource {ds['uid']}",
                lambda: self.datasources.__setitem__(ds["uid"], dict(ds, id=len(self.datasources)))),
            update_datasource_by_uid=lambda uid, ds: self._write(f"update datasource {uid}",
                                                                 lambda: self.datasources.__setitem__(uid, dict(ds))),
            delete_datasource_by_uid=lambda uid: self._delete(f"delete datasource {uid}", self.datasources, uid))
        self.search = SimpleNamespace(search_dashboards=self._search)
        self.dashboard = SimpleNamespace(get_dashboard=lambda uid: {"dashboard": self.dashboards[uid]["dashboard"]},
                                         update_dashboard=self._save_dashboard,
                                         delete_dashboard=lambda uid: self._delete(f"delete dashboard {uid}",
                                                                                   self.dashboards, uid))
        self.alertingprovisioning = SimpleNamespace(
            get_contactpoints=lambda: list(self.contact_points.values()),
            create_contactpoint=lambda cp, disable_provenance=False: self._write(
                f"create contact point {cp['uid']}", lambda: self.contact_points.__setitem__(cp["uid"], cp)),
            update_contactpoint=lambda uid, cp, disable_provenance=False: self._write(
                f"update contact point {uid}", lambda: self.contact_points.__setitem__(uid, cp)),
            delete_contactpoint=lambda uid: self._delete(f"delete contact point {uid}", self.contact_points, uid),
            get_templates=lambda: list(self.templates.values()),
            create_or_update_template=self._put_template,
            delete_template=lambda name: self._delete(f"delete template {name}", self.templates, name),
            get_mute_timings=lambda: list(self.mutes.values()),
            create_mute_timing=lambda m, disable_provenance=False: self._write(
                f"create mute timing {m['name']}", lambda: self.mutes.__setitem__(m["name"], m)),
            update_mute_timing=lambda name, m: self._write(f"update mute timing {name}",
                                                           lambda: self.mutes.__setitem__(name, m)),
            delete_mute_timing=lambda name: self._delete(f"delete mute timing {name}", self.mutes, name),
            get_notification_policy_tree=lambda: self.tree,
            set_notification_policy_tree=lambda tree, disable_provenance=False: self._write(
                "set policy tree", lambda: setattr(self, "tree", tree)),
            get_alertrules_all=lambda: [dict(rule) for rule in self.rules.values()],
            get_rule_group=self._get_rule_group,
            update_rule_group=self._put_rule_group,
            delete_alertrule=lambda uid: self._write(f"delete alert rule {uid}", lambda: self.rules.pop(uid, None)))

    def _write(self, what: str, change: object) -> object:
        self.writes.append(what)
        return change()  # type: ignore[operator]

    def _delete(self, what: str, store: dict, key: object) -> None:
        if key not in store:
            raise _not_found()
        self._write(what, lambda: store.pop(key))

    def _get(self, store: dict, key: object) -> dict:
        if key not in store:
            raise _not_found()
        return store[key]

    # -- folders and their permissions ----------------------------------------------------------------------

    def _create_folder(self, title: str, uid: str | None = None) -> dict:
        def create() -> dict:
            self.folders[uid] = {"uid": uid, "title": title}
            # What Grafana grants on a new folder: its creator Admin, Editors Edit, Viewers View.
            self.acl[uid] = [{"userId": 1, "userLogin": "admin", "permission": 4},
                             {"role": "Editor", "permission": 2}, {"role": "Viewer", "permission": 1}]
            return self.folders[uid]

        return self._write(f"create folder {uid}", create)  # type: ignore[return-value]

    def _get_permissions(self, uid: str) -> list[dict]:
        if uid not in self.folders:
            raise _not_found("folder not found")
        names = {team_id: name for name, team_id in self.teams_by_name.items()}
        out = []
        for item in self.acl.get(uid, []):
            out.append({"uid": uid, "title": self.folders[uid]["title"], "isFolder": True, "inherited": False,
                        "userId": item.get("userId", 0), "userLogin": item.get("userLogin", ""),
                        "teamId": item.get("teamId", 0), "team": names.get(item.get("teamId"), ""),
                        "role": item.get("role"), "permission": item["permission"],
                        "permissionName": _NAMES[item["permission"]]})
        return out

    def _set_permissions(self, uid: str, items: list[dict]) -> dict:
        if uid not in self.folders:
            raise _not_found("folder not found")
        for item in items:
            if sum(bool(item.get(k)) for k in ("teamId", "userId", "role")) != 1:
                raise _bad_request("each item needs exactly one of teamId, userId, role")
            if item.get("role") == "Admin":
                raise _bad_request("cannot change Admin role permissions")
            if item.get("teamId") and item["teamId"] not in self.teams_by_name.values():
                raise _bad_request("team not found")
            if item.get("permission") not in _NAMES:
                raise _bad_request("invalid permission")
        self._write(f"set permissions {uid}", lambda: self.acl.__setitem__(uid, [dict(i) for i in items]))
        return {"message": "Folder permissions updated"}

    def _team_by_name(self, name: str) -> list[dict]:
        decoded = unquote(name)  # the server decodes the query string
        return [{"id": self.teams_by_name[decoded], "name": decoded}] if decoded in self.teams_by_name else []

    # -- dashboards -----------------------------------------------------------------------------------------

    def _search(self, tag: str) -> list[dict]:
        return [{"type": "dash-db", "uid": uid, "folderUid": d["folderUid"]} for uid, d in self.dashboards.items()
                if tag in d["dashboard"].get("tags", [])]

    def _save_dashboard(self, payload: dict) -> None:
        if payload["folderUid"] not in self.folders:
            raise _bad_request(f"folder {payload['folderUid']} not found")
        dashboard = dict(payload["dashboard"], id=42, version=3)
        self._write(f"save dashboard {dashboard['uid']} in {payload['folderUid']}", lambda: self.dashboards.__setitem__(
            dashboard["uid"], {"dashboard": dashboard, "folderUid": payload["folderUid"]}))
        self.messages.append(payload["message"])

    # -- alert rules ----------------------------------------------------------------------------------------

    def group(self, folder: str, title: str) -> list[str]:
        """The uids of a group's rules, in the group's order."""
        return [uid for uid, rule in self.rules.items() if (rule["folderUID"], rule["ruleGroup"]) == (folder, title)]

    def _get_rule_group(self, folder: str, title: str) -> dict:
        uids = self.group(folder, title)
        if not uids:
            raise _not_found("rule group not found")
        return {"title": title, "folderUid": folder, "interval": self.intervals[(folder, title)],
                "rules": [dict(self.rules[uid]) for uid in uids]}

    def _put_rule_group(self, folder: str, title: str, body: dict, disable_provenance: bool = False) -> dict:
        if not body.get("interval"):
            raise _bad_request("the group needs an interval")
        uids = [rule.get("uid") for rule in body["rules"]]
        if not all(uids) or len(set(uids)) != len(uids):
            raise _bad_request("every rule needs a uid of its own")  # Grafana would make one: tracklog always sets it

        def replace() -> None:
            for uid in self.group(folder, title):
                if uid not in uids:
                    del self.rules[uid]
            for rule in body["rules"]:
                self.rules.pop(rule["uid"], None)  # a rule of another group or folder moves here
                self.rules[rule["uid"]] = dict(rule, id=7, orgID=1, folderUID=folder, ruleGroup=title,
                                               updated="now", provenance="" if disable_provenance else "api")
            self.intervals[(folder, title)] = body["interval"]

        self._write(f"put rule group {folder}/{title}", replace)
        return body

    # -- notification templates -----------------------------------------------------------------------------

    def _put_template(self, name: str, body: dict, disable_provenance: bool = False) -> dict:
        if set(body) - {"template", "version"} or not body.get("template"):
            raise _bad_request("the body is {template, version?}")
        text = body["template"].strip()  # Grafana trims the text (and wraps it in a define if it has none)
        if not re.search(r"\{\{-?\s*define", text):
            indented = text.replace("\n", "\n  ")
            text = f'{{{{ define "{name}" }}}}\n  {indented}\n{{{{ end }}}}'

        stored = {"name": name, "template": text, "provenance": "" if disable_provenance else "api"}
        self._write(f"put template {name}", lambda: self.templates.__setitem__(name, stored))
        return stored
