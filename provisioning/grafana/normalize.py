"""Bodies as Grafana stores them, so that what tracklog renders and what Grafana answers compare equal.

Grafana adds and rewrites fields on save; a plan that compared raw bodies would never be empty after an apply.
Each rule below names where Grafana does it (grafana/grafana source paths). Both sides of a comparison, the
rendered one and the live one, go through the same functions.
"""

from __future__ import annotations

import copy
import re
from typing import Any

# pkg/services/ngalert/models/alert_query.go: AlertQuery.PreSave -> InitDefaults sets these in a query's model when
# they are missing or zero (defaultIntervalMS, defaultMaxDataPoints).
MODEL_DEFAULTS = {"intervalMs": 1000, "maxDataPoints": 43200}
# Fields of a ProvisionedAlertRule that tracklog manages; the rest (id, updated, provenance, orgID, ...) Grafana owns.
# (pkg/services/ngalert/api/tooling/definitions/provisioning_alert_rules.go)
RULE_FIELDS = ("uid", "title", "condition", "data", "noDataState", "execErrState", "for", "keep_firing_for",
               "annotations", "labels", "isPaused", "notification_settings", "record", "missingSeriesEvalsToResolve")
_DURATION = re.compile(r"^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")
_UNIT_MS = (("y", 365 * 86400000), ("w", 7 * 86400000), ("d", 86400000), ("h", 3600000), ("m", 60000),
            ("s", 1000), ("ms", 1))


def duration(text: str | None) -> str:
    """A duration as prometheus/common model.Duration prints it, which Grafana uses for `for`/`keep_firing_for`:
    "0m" -> "0s", "300s" -> "5m", "90m" -> "1h30m". Unparseable text is returned as it is (Grafana refuses it)."""
    text = text or "0s"
    if text == "0":
        return "0s"
    match = _DURATION.match(text)
    if not match or not text:
        return text
    ms = sum(int(match.group(g)) * size for g, (_, size) in zip(range(2, 15, 2), _UNIT_MS, strict=True)
             if match.group(g))
    if ms == 0:
        return "0s"
    out = ""
    for unit, size in _UNIT_MS:
        if ms >= size:
            out += f"{ms // size}{unit}"
            ms %= size
    return out


def query(q: dict[str, Any]) -> dict[str, Any]:
    """A rule query as Grafana keeps it (alert_query.go): queryType copied from the model, relativeTimeRange and
    the model's intervalMs/maxDataPoints/refId defaulted."""
    model = dict(q.get("model") or {})
    for key, value in MODEL_DEFAULTS.items():
        if not model.get(key):
            model[key] = value
    model.setdefault("refId", q.get("refId"))
    query_type = q.get("queryType") or (model["queryType"] if isinstance(model.get("queryType"), str) else "")
    return {"refId": q.get("refId"), "queryType": query_type, "datasourceUid": q.get("datasourceUid"),
            "relativeTimeRange": dict(q.get("relativeTimeRange") or {"from": 0, "to": 0}), "model": model}


def rule(r: dict[str, Any]) -> dict[str, Any]:
    """The managed part of a rule, with Grafana's defaults filled in and its durations in Grafana's form."""
    out = {
        "uid": r.get("uid"), "title": r.get("title"), "condition": r.get("condition"),
        "data": [query(q) for q in r.get("data") or []],
        "noDataState": r.get("noDataState"), "execErrState": r.get("execErrState"),
        "for": duration(r.get("for")),
        # Grafana 12 answers keep_firing_for ("0s" when unset); 11.x has no such field: both mean zero.
        "keep_firing_for": duration(r.get("keep_firing_for")),
        "annotations": dict(r.get("annotations") or {}), "labels": dict(r.get("labels") or {}),
        "isPaused": bool(r.get("isPaused")),
        "notification_settings": r.get("notification_settings") or None, "record": r.get("record") or None,
        "missingSeriesEvalsToResolve": r.get("missingSeriesEvalsToResolve") or None,
    }
    return {k: v for k, v in out.items() if v is not None}


def rule_group(group: dict[str, Any], folder_uid: str) -> dict[str, Any]:
    """A rule group (AlertRuleGroup: interval in seconds) in comparable form."""
    return {"folderUid": folder_uid, "title": group["title"], "interval": group.get("interval"),
            "rules": [rule(r) for r in group.get("rules", [])]}


def dashboard(d: dict[str, Any]) -> dict[str, Any]:
    """A dashboard without what Grafana sets on save (its database id, version, and the legacy iteration)."""
    return {k: copy.deepcopy(v) for k, v in d.items() if k not in ("id", "version", "iteration")}


DATASOURCE_FIELDS = ("name", "type", "url", "access", "isDefault", "jsonData", "basicAuth", "basicAuthUser",
                     "withCredentials")


def datasource(ds: dict[str, Any]) -> dict[str, Any]:
    """A datasource's managed fields; Grafana answers false, "" and {} for what was never set (DataSource DTO)."""
    return {k: copy.deepcopy(ds[k]) for k in DATASOURCE_FIELDS if ds.get(k) not in (None, "", False, {})}
