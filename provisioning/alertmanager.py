"""Alertmanager's configuration from tracklog.yaml: receivers from contact points, the routing tree, mute timings.

Secrets (webhook and Slack URLs, the SMTP password) are read from the environment variables tracklog.yaml names,
here and nowhere else; ``Secrets`` remembers each value so that plans and diffs can print its name instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from provisioning.config import Config
from provisioning.notifications import MuteTiming
from provisioning.secrets import Secrets, hide_secrets

__all__ = ["AlertmanagerConfig", "Secrets", "build", "hide_secrets"]



@dataclass
class AlertmanagerConfig:
    body: dict[str, Any]
    secrets: Secrets
    warnings: list[str]


def build(config: Config, env: Mapping[str, str] | None = None) -> AlertmanagerConfig:
    """The Alertmanager config for tracklog.yaml's contact points, policy tree, mute timings and smtp."""
    env = os.environ if env is None else env
    model = config.notifications
    secrets = Secrets()
    warnings: list[str] = []
    receivers = []
    smtp = config.smtp
    global_section: dict[str, Any] = {"resolve_timeout": "5m"}
    if smtp.smarthost:
        global_section.update({"smtp_smarthost": smtp.smarthost, "smtp_from": smtp.sender,
                               "smtp_require_tls": smtp.require_tls})
        if smtp.username:
            global_section["smtp_auth_username"] = smtp.username
        password = secrets.resolve(smtp.password_env, env)
        if password:
            global_section["smtp_auth_password"] = password
    for point in model.contact_points:
        receiver: dict[str, Any] = {"name": point.name}
        url = (secrets.resolve(point.url_env, env) or point.url) if point.type != "email" else ""
        unset = f"contact point {point.name}: ${point.url_env} is not set; it will drop notifications"
        if point.type in ("webhook", "sms"):
            if url:
                receiver["webhook_configs"] = [{"url": url, "send_resolved": True, "max_alerts": 50}]
            else:
                warnings.append(unset)
        elif point.type == "slack":
            if url:
                receiver["slack_configs"] = [{"api_url": url, "channel": point.channel, "send_resolved": True,
                                              "title": "{{ .CommonAnnotations.summary }}"}]
            else:
                warnings.append(unset)
        elif point.type == "email":
            if smtp.smarthost:
                receiver["email_configs"] = [{"to": ", ".join(point.addresses), "send_resolved": True}]
            else:
                warnings.append(f"contact point {point.name}: no smtp.smarthost in tracklog.yaml; e-mail is not sent")
        receivers.append(receiver)

    default = model.default_receiver
    if not default:  # no contact points: Alertmanager still needs a root receiver, one that sends nothing
        default = "blackhole"
        receivers.append({"name": default})
    route: dict[str, Any] = {
        "receiver": default, "group_by": list(model.group_by), "group_wait": model.group_wait,
        "group_interval": model.group_interval, "repeat_interval": model.repeat_interval, "routes": [],
    }
    for child in model.routes:
        entry: dict[str, Any] = {"receiver": child.receiver, "matchers": [m.text() for m in child.matchers]}
        if child.mute_timings:
            entry["mute_time_intervals"] = list(child.mute_timings)
        if child.continue_matching:
            entry["continue"] = True
        route["routes"].append(entry)
    body: dict[str, Any] = {"global": global_section, "route": route, "receivers": receivers}
    intervals = [time_interval(m) for m in model.mute_timings]
    if intervals:
        body["time_intervals"] = intervals
    return AlertmanagerConfig(body, secrets, warnings)


def time_interval(mute: MuteTiming) -> dict[str, Any]:
    """A mute timing as Alertmanager's (and Grafana's) time_intervals entry."""
    interval: dict[str, Any] = {}
    if mute.weekdays:
        interval["weekdays"] = list(mute.weekdays)
    if mute.times:
        interval["times"] = [{"start_time": t.start, "end_time": t.end} for t in mute.times]
    return {"name": mute.name, "time_intervals": [interval]}
