"""The alert rules of the bundle as the review needs them: query, comparison and threshold apart, `for`, interval.

The Grafana-managed rules keep the query (node A) and the comparison (math node B, ``$A > 1``) apart; the Prometheus
and Loki ruler files hold what actually runs. Each reviewed rule is a Grafana rule matched with its ruler rule by
name and labels, and checked to be the same comparison.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from provisioning import render
from provisioning.config import Config
from provisioning.jsonnetconfig import jsonnet_config
from provisioning.timerange import NS, parse_duration

_MATH = re.compile(r"^\$A\s*(>=|<=|==|!=|>|<)\s*(-?[0-9.eE+-]+)$")
# A comparison inside the query (``... >= 20 and ...``): its value is not the signal the threshold applies to.
_INNER_COMPARISON = re.compile(r"(?<![=!~<>])(>=|<=|==|!=|>|<)(?![=~])\s*-?[0-9]")


@dataclass(frozen=True)
class ReviewRule:
    name: str  # the alertname
    title: str  # unique per rule (Grafana's title): ServiceStoppedLogging has one per service
    group: str
    datasource: str  # 'prometheus' or 'loki'
    datasource_uid: str
    query: str
    op: str
    threshold: float
    hold: float  # `for`, seconds
    interval: float  # the group's evaluation interval, seconds
    labels: Mapping[str, str]
    expr: str  # what the ruler evaluates
    tenant: str | None = None  # a LogQL rule: the Loki tenant whose records it reads (its ruler's)

    @property
    def composite(self) -> bool:
        """The query compares inside itself (``A >= 20 and B >= 20``): its value is not a signal to set a threshold
        on; its thresholds are the config keys inside the query."""
        stripped = re.sub(r'"(?:[^"\\]|\\.)*"|`[^`]*`', '""', self.query)  # label values and line filters
        return bool(_INNER_COMPARISON.search(stripped))


def _seconds(text: str) -> float:
    return 0.0 if text in ("", "0", "0s", "0m") else parse_duration(text) / NS


def _ruler_rules(output: Mapping[str, Any]) -> dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]]:
    files = [(None, output["prometheusRules"]), *output["lokiRulesByTenant"].items()]
    found = {}
    for tenant, rule_file in files:
        for group in rule_file["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    found[(rule["alert"], tuple(sorted(rule.get("labels", {}).items())))] = {
                        **rule, "_group": group, "_tenant": tenant}
    return found


def from_output(output: Mapping[str, Any]) -> list[ReviewRule]:
    """Every alert rule of an evaluated tracklog.jsonnet (``render.evaluate``), in the bundle's order."""
    ruler = _ruler_rules(output)
    rules = []
    for group in output["grafanaAlerts"]:
        for g in group["rules"]:
            query_node = next(d for d in g["data"] if d["refId"] == "A")
            math = _MATH.match(next(d for d in g["data"] if d["refId"] == g["condition"])["model"]["expression"])
            if math is None:
                continue
            labels = dict(g.get("labels", {}))
            name = labels.pop("alertname", None) or _alertname(g, ruler)
            runs = ruler.get((name, tuple(sorted(g.get("labels", {}).items()))))
            datasource = query_node["model"]["datasource"]["type"]
            interval = _seconds(str(runs["_group"].get("interval", "1m"))) if runs else float(group["interval"])
            rules.append(ReviewRule(
                name=name, title=g["title"], group=group["title"], datasource=datasource,
                datasource_uid=query_node["datasourceUid"], query=query_node["model"]["expr"], op=math[1],
                threshold=float(math[2]), hold=_seconds(runs.get("for", "0m") if runs else g["for"]),
                interval=interval, labels=dict(g.get("labels", {})),
                expr=runs["expr"] if runs else f"{query_node['model']['expr']} {math[1]} {math[2]}",
                tenant=runs["_tenant"] if runs else None))
    return rules


def _alertname(grafana_rule: Mapping[str, Any], ruler: Mapping[tuple[str, Any], Any]) -> str:
    """Grafana names the alert by its title; the rulers by `alert`. The title is the name, or the name and more."""
    labels = tuple(sorted(grafana_rule.get("labels", {}).items()))
    title = grafana_rule["title"]
    for name, rule_labels in ruler:
        if rule_labels == labels and (title == name or title.startswith(name + " ")):
            return name
    return title


def load(config: Config) -> list[ReviewRule]:
    """Evaluate tracklog.jsonnet with ``config`` (nothing is written) and return its alert rules.

    Raises:
        RenderError: Jsonnet failed; the message names the file and line.
    """
    output, _ = render.evaluate(jsonnet_config(config))
    return from_output(output)
