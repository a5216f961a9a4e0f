"""The typed model of tracklog.yaml's alert routing: contact points, the policy tree and mute timings, plus the
`grafana:` section. One model, read once by config.load with every problem's file:line; alertmanager.py and
grafana/notifications.py are its two writers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from provisioning.markers import TEMPLATE_ROLES

CONTACT_TYPES = ("webhook", "sms", "slack", "email")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Alertmanager's matcher syntax: a label name, an operator and a value, quoted or not.
_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^"\s][^"]*?))?\s*$')
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


@dataclass(frozen=True)
class ContactPoint:
    name: str
    type: str  # webhook, sms (a webhook to an SMS gateway), slack, email
    url_env: str = ""  # the variable holding the URL (a secret: webhook tokens live in URLs)
    url: str = ""  # used when url_env is unset or empty
    addresses: tuple[str, ...] = ()
    channel: str = "#alerts"
    templates: tuple[tuple[str, str], ...] = ()  # (role, template name): title and message
    place: str = ""  # file:line
    templates_place: str = ""  # file:line of its `templates`


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str

    def text(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.label}{self.op}"{escaped}"'


@dataclass(frozen=True)
class Route:
    receiver: str
    matchers: tuple[Matcher, ...] = ()
    mute_timings: tuple[str, ...] = ()
    continue_matching: bool = False
    place: str = ""


@dataclass(frozen=True)
class TimeRange:
    start: str
    end: str


@dataclass(frozen=True)
class MuteTiming:
    name: str
    weekdays: tuple[str, ...] = ()
    times: tuple[TimeRange, ...] = ()
    place: str = ""


@dataclass(frozen=True)
class Notifications:
    contact_points: tuple[ContactPoint, ...] = ()
    default_receiver: str = ""
    group_by: tuple[str, ...] = ("alertname", "service")
    group_wait: str = "10s"
    group_interval: str = "1m"
    repeat_interval: str = "4h"
    routes: tuple[Route, ...] = ()
    mute_timings: tuple[MuteTiming, ...] = ()

    def contact_point(self, name: str) -> ContactPoint | None:
        return next((p for p in self.contact_points if p.name == name), None)


@dataclass(frozen=True)
class GrafanaSettings:
    enabled: bool = False
    folder: str = "Delivery tracking"
    folder_uid: str = "tracklog"
    security_team: str = ""
    security_folder: str = "Delivery tracking / Security"
    security_folder_uid: str = "tracklog-security"
    security_permission: str = "View"
    alerts_editable_in_ui: bool = False


@dataclass(frozen=True)
class SmtpSettings:
    smarthost: str = ""  # host:port; empty: e-mail contact points send nothing
    sender: str = "tracklog@localhost"
    require_tls: bool = True
    username: str = ""
    password_env: str = ""


def read_smtp(r: Any, raw: Any) -> SmtpSettings:
    node = r.mapping(raw, "smtp", "smtp")
    return SmtpSettings(smarthost=r.string(node, "smarthost", "smtp.smarthost"),
                        sender=r.string(node, "from", "smtp.from", "tracklog@localhost"),
                        require_tls=bool(node.get("require_tls", True)),
                        username=r.string(node, "username", "smtp.username"),
                        password_env=r.env_name(node, "password_env", "smtp.password_env"))


def read_notifications(r: Any, raw: Any) -> Notifications:
    """contact_points, notification_policies and mute_timings of tracklog.yaml; problems go to the reader ``r``."""
    points = []
    for i, node in enumerate(_list(r, raw, "contact_points")):
        where = f"contact_points[{i}]"
        if not isinstance(node, dict):
            r.problem(raw, "contact_points", where, "must be a mapping {name, type, ...}")
            continue
        name = r.string(node, "name", f"{where}.name")
        if not name:
            r.problem(node, None, where, "needs a name")
            continue
        kind = r.string(node, "type", f"{where}.type", "webhook")
        if kind not in CONTACT_TYPES:
            r.problem(node, "type", f"{where}.type", f"unknown type {kind!r}; known: {', '.join(CONTACT_TYPES)}")
        templates = r.mapping(node, "templates", f"{where}.templates")
        for role in templates:
            if role not in TEMPLATE_ROLES:
                r.problem(templates, role, f"{where}.templates.{role}", f"unknown; known: {', '.join(TEMPLATE_ROLES)}")
        addresses = node.get("addresses") or []
        if kind == "email" and not addresses:
            r.problem(node, None, where, "an email contact point needs addresses")
        if kind in ("webhook", "sms", "slack") and not (node.get("url_env") or node.get("url")):
            r.problem(node, None, where, f"a {kind} contact point needs url_env (the variable holding its URL) or url")
        if any(p.name == name for p in points):
            r.problem(node, "name", f"{where}.name", f"a second contact point named {name!r}")
        points.append(ContactPoint(
            name=name, type=kind, url_env=r.env_name(node, "url_env", f"{where}.url_env"),
            url=r.string(node, "url", f"{where}.url"), addresses=tuple(str(a) for a in addresses),
            channel=r.string(node, "channel", f"{where}.channel", "#alerts"),
            templates=tuple((role, str(templates[role])) for role in TEMPLATE_ROLES if role in templates),
            place=r.place(r.line_of(node)), templates_place=r.place(r.line_of(node, "templates"))))
    names = {p.name for p in points}

    mutes = []
    for i, node in enumerate(_list(r, raw, "mute_timings")):
        where = f"mute_timings[{i}]"
        if not isinstance(node, dict) or not node.get("name"):
            r.problem(node if isinstance(node, dict) else raw, None, where, "needs a name")
            continue
        weekdays = [str(d).lower() for d in node.get("weekdays") or []]
        for day in weekdays:
            if day not in WEEKDAYS:
                r.problem(node, "weekdays", f"{where}.weekdays", f"{day!r} is not a weekday")
        times = []
        for t in node.get("times") or []:
            start, end = (str(t.get("start", "")), str(t.get("end", ""))) if isinstance(t, dict) else ("", "")
            if not (_CLOCK.match(start) and _CLOCK.match(end) and start < end):
                r.problem(node, "times", f"{where}.times", f"{t!r} is not {{start: HH:MM, end: HH:MM}}, start < end")
                continue
            times.append(TimeRange(start, end))
        mutes.append(MuteTiming(str(node["name"]), tuple(d for d in weekdays if d in WEEKDAYS), tuple(times),
                                r.place(r.line_of(node))))
    mute_names = {m.name for m in mutes}

    policies = r.mapping(raw, "notification_policies", "notification_policies")
    default = r.string(policies, "default_receiver", "notification_policies.default_receiver") or (
        points[0].name if points else "")
    if default and default not in names:  # no contact points at all: nothing is routed (alerts only show)
        r.problem(policies, "default_receiver", "notification_policies.default_receiver",
                  f"{default!r} is not a contact point; known: {', '.join(sorted(names))}")
    routes = []
    for i, node in enumerate(_list(r, policies, "routes")):
        where = f"notification_policies.routes[{i}]"
        if not isinstance(node, dict):
            r.problem(policies, "routes", where, "must be a mapping {matchers, receiver}")
            continue
        receiver = r.string(node, "receiver", f"{where}.receiver")
        if receiver not in names:
            r.problem(node, "receiver" if receiver else None, f"{where}.receiver",
                      f"{receiver!r} is not a contact point; known: {', '.join(sorted(names))}")
        matchers = []
        for text in node.get("matchers") or []:
            match = _MATCHER.match(str(text))
            if not match:
                r.problem(node, "matchers", f"{where}.matchers",
                          f"{text!r} is not a matcher like 'severity = critical' or 'team =~ \"sec.*\"'")
                continue
            label, op, quoted, bare = match.groups()
            value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else (bare or "")
            matchers.append(Matcher(label, op, value))
        route_mutes = tuple(str(m) for m in node.get("mute_timings") or [])
        for mute in route_mutes:
            if mute not in mute_names:
                r.problem(node, "mute_timings", f"{where}.mute_timings",
                          f"{mute!r} is not a mute timing; known: {', '.join(sorted(mute_names)) or 'none'}")
        routes.append(Route(receiver, tuple(matchers), route_mutes, bool(node.get("continue")),
                            r.place(r.line_of(node))))
    return Notifications(contact_points=tuple(points), default_receiver=default, routes=tuple(routes),
                         mute_timings=tuple(mutes))


def read_grafana(r: Any, raw: Any) -> GrafanaSettings:
    node = r.mapping(raw, "grafana", "grafana")
    permission = r.string(node, "security_permission", "grafana.security_permission", "View")
    if permission not in ("View", "Edit"):
        r.problem(node, "security_permission", "grafana.security_permission", f"View or Edit, got {permission!r}")
    known = tuple(GrafanaSettings.__dataclass_fields__)
    for key in node:
        if key not in known:
            r.problem(node, key, f"grafana.{key}", f"unknown key; known: {', '.join(known)}")
    return GrafanaSettings(
        enabled=bool(node.get("enabled", False)),
        folder=r.string(node, "folder", "grafana.folder", "Delivery tracking"),
        folder_uid=r.string(node, "folder_uid", "grafana.folder_uid", "tracklog"),
        security_team=r.string(node, "security_team", "grafana.security_team"),
        security_folder=r.string(node, "security_folder", "grafana.security_folder", "Delivery tracking / Security"),
        security_folder_uid=r.string(node, "security_folder_uid", "grafana.security_folder_uid", "tracklog-security"),
        security_permission=permission,
        alerts_editable_in_ui=bool(node.get("alerts_editable_in_ui", False)))


def _list(r: Any, node: Any, key: str) -> list[Any]:
    value = node.get(key) if isinstance(node, dict) else None
    if value is None:
        return []
    if not isinstance(value, list):
        r.problem(node, key, key, "must be a list")
        return []
    return value
