"""Alertmanager's configuration from tracklog.yaml: receivers from contact points, the routing tree, mute timings.

Secrets (webhook and Slack URLs, the SMTP password) are read from the environment variables tracklog.yaml names,
here and nowhere else; ``Secrets`` remembers each value so that plans and diffs can print its name instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from provisioning.config import Config
from provisioning.secrets import Secrets, hide_secrets

__all__ = ["AlertmanagerConfig", "Secrets", "build", "hide_secrets"]

_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*\"?([^\"]*)\"?\s*$")
_WEEKDAYS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}


@dataclass
class AlertmanagerConfig:
    body: dict[str, Any]
    secrets: Secrets
    warnings: list[str]


def build(config: Config, env: Mapping[str, str] | None = None) -> AlertmanagerConfig:
    """The Alertmanager config for tracklog.yaml's contact_points, notification_policies, mute_timings and smtp."""
    env = os.environ if env is None else env
    raw = config.raw
    secrets = Secrets()
    warnings: list[str] = []
    receivers = []
    smtp = raw.get("smtp") or {}
    global_section: dict[str, Any] = {"resolve_timeout": "5m"}
    if smtp.get("smarthost"):
        global_section.update({"smtp_smarthost": smtp["smarthost"], "smtp_from": smtp.get("from", "tracklog@localhost"),
                               "smtp_require_tls": bool(smtp.get("require_tls", True))})
        if smtp.get("username"):
            global_section["smtp_auth_username"] = smtp["username"]
        password = secrets.resolve(smtp.get("password_env", ""), env)
        if password:
            global_section["smtp_auth_password"] = password
    for point in raw.get("contact_points") or []:
        name, kind = point["name"], point.get("type", "webhook")
        receiver: dict[str, Any] = {"name": name}
        if kind in ("webhook", "sms"):
            url = secrets.resolve(point.get("url_env", ""), env) or point.get("url")
            if url:
                receiver["webhook_configs"] = [{"url": url, "send_resolved": True, "max_alerts": 50}]
            else:
                warnings.append(f"contact point {name}: ${point.get('url_env')} is not set; it will drop notifications")
        elif kind == "slack":
            url = secrets.resolve(point.get("url_env", ""), env)
            if url:
                receiver["slack_configs"] = [{"api_url": url, "channel": point.get("channel", "#alerts"),
                                              "send_resolved": True, "title": "{{ .CommonAnnotations.summary }}"}]
            else:
                warnings.append(f"contact point {name}: ${point.get('url_env')} is not set; it will drop notifications")
        elif kind == "email":
            if smtp.get("smarthost"):
                receiver["email_configs"] = [{"to": ", ".join(point.get("addresses") or []), "send_resolved": True}]
            else:
                warnings.append(f"contact point {name}: no smtp.smarthost in tracklog.yaml; e-mail is not sent")
        else:
            warnings.append(f"contact point {name}: unknown type {kind!r} (webhook, sms, slack, email)")
        receivers.append(receiver)

    policies = raw.get("notification_policies") or {}
    names = {r["name"] for r in receivers}
    default = policies.get("default_receiver") or (receivers[0]["name"] if receivers else "blackhole")
    if default not in names:
        receivers.append({"name": default})
    route: dict[str, Any] = {
        "receiver": default, "group_by": ["alertname", "service"], "group_wait": "10s",
        "group_interval": "1m", "repeat_interval": "4h", "routes": [],
    }
    for child in policies.get("routes") or []:
        entry: dict[str, Any] = {"receiver": child["receiver"],
                                 "matchers": [_matcher(m) for m in child.get("matchers") or []]}
        if child.get("mute_timings"):
            entry["mute_time_intervals"] = list(child["mute_timings"])
        if child.get("continue"):
            entry["continue"] = True
        route["routes"].append(entry)
    body: dict[str, Any] = {"global": global_section, "route": route, "receivers": receivers}
    intervals = [_time_interval(m) for m in raw.get("mute_timings") or []]
    if intervals:
        body["time_intervals"] = intervals
    return AlertmanagerConfig(body, secrets, warnings)


def _matcher(text: str) -> str:
    match = _MATCHER.match(text)
    if not match:
        raise ValueError(f"notification_policies: {text!r} is not a matcher like 'severity = critical'")
    name, op, value = match.groups()
    return f'{name}{op}"{value}"'


def _time_interval(mute: Mapping[str, Any]) -> dict[str, Any]:
    interval: dict[str, Any] = {}
    if mute.get("weekdays"):
        interval["weekdays"] = [d for d in mute["weekdays"] if d in _WEEKDAYS]
    if mute.get("times"):
        interval["times"] = [{"start_time": t["start"], "end_time": t["end"]} for t in mute["times"]]
    return {"name": mute["name"], "time_intervals": [interval]}
