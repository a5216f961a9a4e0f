"""The Grafana writer of the alert-routing model (provisioning/notifications.py): contact points, the policy tree
and mute timings in the bodies of Grafana's alerting provisioning API. alertmanager.py is the other writer."""

from __future__ import annotations

import re
from typing import Any

from provisioning.alertmanager import time_interval
from provisioning.markers import CONTACT_PREFIX
from provisioning.notifications import ContactPoint, Notifications

# Where each contact point type takes the title and the message (tracklog.yaml: `templates: {title, message}`).
TEMPLATE_FIELDS = {"webhook": {"title": "title", "message": "message"},
                   "slack": {"title": "title", "message": "text"},
                   "email": {"title": "subject", "message": "message"}}
# The settings Grafana keeps encrypted and answers as "[REDACTED]", for the types tracklog writes: the integrations'
# "secure" options (pkg/services/ngalert/notifier/channels_config/available_channels.go; Grafana's own snapshot of
# GET /api/alert-notifiers lists the same). Slack's URL is secure, a webhook's is not.
SECURE_SETTINGS = {"slack": ("url", "token"),
                   "webhook": ("password", "authorization_credentials"),
                   "email": ()}
GRAFANA_TYPE = {"sms": "webhook"}  # an SMS gateway is a webhook to Grafana


def contact_uid(point: ContactPoint) -> str:
    """A stable uid from the name: Grafana's limit is 40 characters of [a-zA-Z0-9-_] (EmbeddedContactPoint.uid)."""
    return CONTACT_PREFIX + re.sub(r"[^a-z0-9-]", "-", point.name.lower())[:37]


def contact_point(point: ContactPoint, url: str) -> dict[str, Any]:
    """The body of POST/PUT /api/v1/provisioning/contact-points, with the URL already resolved."""
    kind = GRAFANA_TYPE.get(point.type, point.type)
    settings: dict[str, Any] = {}
    if kind in ("webhook", "slack"):
        settings["url"] = url
    elif kind == "email":
        settings["addresses"] = ";".join(point.addresses)
    for role, name in point.templates:
        field = TEMPLATE_FIELDS.get(kind, {}).get(role)
        if field:
            settings[field] = f'{{{{ template "{name}" . }}}}'
    return {"uid": contact_uid(point), "name": point.name, "type": kind, "settings": settings,
            "disableResolveMessage": False}


def policy_tree(model: Notifications) -> dict[str, Any]:
    """The body of PUT /api/v1/provisioning/policies (a Route): the same tree Alertmanager gets."""
    routes = []
    for child in model.routes:
        route: dict[str, Any] = {"receiver": child.receiver,
                                 "object_matchers": [[m.label, m.op, m.value] for m in child.matchers]}
        if child.mute_timings:
            route["mute_time_intervals"] = list(child.mute_timings)
        if child.continue_matching:
            route["continue"] = True
        routes.append(route)
    return {"receiver": model.default_receiver, "group_by": list(model.group_by), "group_wait": model.group_wait,
            "group_interval": model.group_interval, "repeat_interval": model.repeat_interval, "routes": routes}


def policy_view(tree: dict[str, Any]) -> dict[str, Any]:
    """The managed part of a policy tree as Grafana answers it (it adds provenance; unset fields are absent)."""
    keep = ("receiver", "object_matchers", "mute_time_intervals", "continue")
    routes = [{k: route[k] for k in keep if route.get(k) not in (None, [], False)}
              for route in tree.get("routes") or []]
    return {"receiver": tree.get("receiver"), "group_by": tree.get("group_by"), "group_wait": tree.get("group_wait"),
            "group_interval": tree.get("group_interval"), "repeat_interval": tree.get("repeat_interval"),
            "routes": routes}


def mute_timing(mute: Any) -> dict[str, Any]:
    return time_interval(mute)


def mute_view(mute: dict[str, Any]) -> dict[str, Any]:
    return {"name": mute["name"], "time_intervals": mute.get("time_intervals") or []}
