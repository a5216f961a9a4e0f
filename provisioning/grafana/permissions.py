"""A folder's permissions: tracklog.yaml's {team|role, permission} items, Grafana's ACL answers, and the items
POST /api/folders/{uid}/permissions takes (teams by id, looked up by name once)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from provisioning.grafana.api import GrafanaError
from provisioning.markers import PERMISSION_LEVELS

_PERMISSION_NAMES = {level: name for name, level in PERMISSION_LEVELS.items()}


class Teams:
    """Team ids by name, asked of Grafana once each."""

    def __init__(self, api: Any, call: Callable[..., Any], url: str) -> None:
        self.api = api
        self._call = call
        self.url = url
        self._team_ids: dict[str, int | None] = {}

    def team_id(self, name: str) -> int | None:
        if name not in self._team_ids:
            # grafana-client pastes the name into the query string as it is: quote it here.
            teams = self._call(f"GET /api/teams/search?name={name}", self.api.teams.get_team_by_name,
                               quote(name, safe="")) or []
            self._team_ids[name] = next((t["id"] for t in teams if t.get("name") == name), None)
        return self._team_ids[name]

    def acl_item(self, item: dict[str, str]) -> dict[str, Any]:
        """One permission as POST /api/folders/{uid}/permissions takes it: team and permission by number."""
        entry: dict[str, Any] = {"permission": PERMISSION_LEVELS[item["permission"]]}
        if "team" in item:
            team_id = self.team_id(item["team"])
            if team_id is None:
                raise GrafanaError(f"Grafana at {self.url} has no team named {item['team']!r} (grafana.security_team)")
            entry["teamId"] = team_id
        elif "role" in item:
            entry["role"] = item["role"]
        else:
            raise GrafanaError(f"a folder permission names neither a team nor a role: {item}")
        return entry


def permissions_body(items: list[dict[str, str]]) -> dict[str, Any]:
    return {"items": sorted((dict(item) for item in items), key=lambda item: sorted(item.items()))}


def acl_body(acl: list[dict[str, Any]]) -> dict[str, Any]:
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
    return permissions_body(items)
