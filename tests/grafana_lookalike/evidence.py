"""Grafana's own evidence, read where it lives (../shared/grafana-reference), never copied into this repository.

The files are Grafana's (AGPL-3.0): integration-test fixtures from pkg/tests/api/alerting/test-data/, its notifier
snapshot and a subset of its OpenAPI spec (public/api-merged.json); their README gives each file's commit. Tests
that need them skip, saying why, on a machine that does not have them.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def reference_dir() -> Path | None:
    """Where the reference files are: $TRACKLOG_GRAFANA_REFERENCE, else ../shared beside the checkout, else /work."""
    candidates = [os.environ.get("TRACKLOG_GRAFANA_REFERENCE", ""), str(ROOT.parent / "shared" / "grafana-reference"),
                  "/work/shared/grafana-reference"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "openapi-subset.json").is_file():
            return Path(candidate)
    return None


MISSING = ("Grafana's reference data (shared/grafana-reference: its test fixtures and API spec, AGPL, never copied "
           "into this repo) is not on this machine; set TRACKLOG_GRAFANA_REFERENCE to its directory")


def _path(name: str) -> Path:
    where = reference_dir()
    if where is None:
        raise FileNotFoundError(MISSING)
    return where / name


@functools.cache
def load_json(name: str) -> Any:
    return json.loads(_path(name).read_text(encoding="utf-8"))


def spec() -> dict[str, Any]:
    return load_json("openapi-subset.json")


@functools.cache
def secure_settings() -> dict[str, frozenset[str]]:
    """Per contact-point type, the settings Grafana keeps encrypted and answers as "[REDACTED]".

    From alert-notifiers-v1-snapshot.json (GET /api/alert-notifiers): options with "secure": true, subform options
    joined with '.'. Types the provisioning API calls differently are mapped ("prometheus-alertmanager" is the
    provisioning API's "alertmanager").
    """
    out: dict[str, frozenset[str]] = {}

    def walk(options: list[dict[str, Any]], prefix: str) -> list[str]:
        found = []
        for option in options or []:
            name = prefix + option.get("propertyName", "")
            if option.get("secure"):
                found.append(name)
            found.extend(walk(option.get("subformOptions") or [], name + "."))
        return found

    for notifier in load_json("alert-notifiers-v1-snapshot.json"):
        kind = notifier["type"]
        out[{"prometheus-alertmanager": "alertmanager"}.get(kind, kind)] = frozenset(walk(notifier["options"], ""))
    return out


def _query_pairs() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each rule query as Grafana's test POSTed it (rulegroup-{1,2,3}-post.json) beside what it read back (-get)."""
    pairs = []
    for n in (1, 2, 3):
        sent, read = load_json(f"rulegroup-{n}-post.json"), load_json(f"rulegroup-{n}-get.json")
        for posted, got in zip(sent["rules"], read["rules"], strict=True):
            pairs += list(zip(posted["grafana_alert"]["data"], got["grafana_alert"]["data"], strict=True))
    return pairs


@functools.cache
def rule_query_model_defaults() -> dict[str, Any]:
    """What Grafana adds to a rule query's model on save, derived by diffing its own POST/GET fixture pairs: every
    model key present in a GET and absent from its POST, with its value, except refId (which Grafana copies from
    the query, not a constant)."""
    return {key: value for q_sent, q_got in _query_pairs() for key, value in q_got["model"].items()
            if key not in q_sent["model"] and key != "refId"}


@functools.cache
def rule_query_defaults() -> dict[str, Any]:
    """What Grafana adds to each rule query (beside its model), from the same fixture pairs."""
    return {key: value for q_sent, q_got in _query_pairs() for key, value in q_got.items() if key not in q_sent}
