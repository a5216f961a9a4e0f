"""Render tracklog.jsonnet with tracklog.yaml into dashboards, rule files and Grafana provisioning files."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from exporters.files import write_atomic
from provisioning.config import Config
from provisioning.errors import RenderError
from provisioning.jsonnetconfig import jsonnet_config

REPO = Path(__file__).resolve().parents[1]
ENTRY = REPO / "tracklog.jsonnet"
DEFAULT_OUT = REPO / "build"

# Bindings in order of preference for engine="auto". Measured with bench/jsonnet_render.py on our 5 dashboards
# and 11 alert rules (median of 5-7 runs after a warm-up, 2-core VM, 2026-11): gojsonnet 0.24-0.31 s,
# jsonnet (C++) 1.37-1.96 s, a ratio of 4.9-6.3x (the spread is other load on the machine). So gojsonnet
# is the default; the C++ binding is the fallback where gojsonnet is not installed.
ENGINES = {"gojsonnet": "_gojsonnet", "jsonnet": "_jsonnet"}
PREFERENCE = ("gojsonnet", "jsonnet")

# Where the rendered files go, relative to out_dir. Dashboards go to DASHBOARDS_DIR/<folder uid>/, one
# directory per Grafana folder, since a file provider puts everything below its path into one folder.
DASHBOARDS_DIR = "dashboards"
PROVISIONING_DIR = "grafana/provisioning"
PROVIDER_FILE = f"{PROVISIONING_DIR}/dashboards/tracklog.yaml"
DATASOURCES_FILE = f"{PROVISIONING_DIR}/datasources/tracklog.yaml"
TEMPLATES_FILE = f"{PROVISIONING_DIR}/alerting/tracklog-templates.yaml"
PROMETHEUS_RULES_FILE = "rules/prometheus/tracklog.rules.yaml"
LOKI_RULES_FILE = "rules/loki/tracklog.rules.yaml"
GRAFANA_ALERTS_FILE = "alerts/grafana-alert-rules.json"

_LOCATION = re.compile(r"(?P<file>[^\s:]+\.(?:jsonnet|libsonnet)):(?P<line>\d+):(?P<column>\d+)(?:-\d+)?:?\s*")
_KIND = re.compile(r"^(?:RUNTIME|STATIC) ERROR:\s*")


@dataclass(frozen=True)
class Rendered:
    """The evaluated entry and where its files were written."""

    out_dir: Path
    engine: str
    seconds: float
    dashboards: dict[str, dict[str, Any]]  # file name ('api-health.json') -> dashboard
    prometheus_rules: dict[str, Any]  # a Prometheus rule file: {groups: [...]}
    loki_rules: dict[str, Any]  # a Loki ruler rule file, same shape
    grafana_alerts: list[dict[str, Any]]  # Grafana-managed rule groups, provisioning API shape
    provisioning: dict[str, Any]  # Grafana provisioning files: {datasources, dashboards, templates}
    files: tuple[Path, ...] = ()
    folders: list[dict[str, Any]] = field(default_factory=list)  # {uid, title, permissions?: [{team, permission}]}
    dashboard_folders: dict[str, str] = field(default_factory=dict)  # file name -> folder uid
    templates: list[dict[str, str]] = field(default_factory=list)  # notification templates: {name, template}
    # endpoints.loki.tenants: tenant -> the Loki ruler rule file of the rules reading its records
    loki_rules_by_tenant: dict[str, Any] = field(default_factory=dict)


def available_engines() -> list[str]:
    """The Jsonnet bindings importable here, fastest first."""
    found = []
    for name in PREFERENCE:
        try:
            importlib.import_module(ENGINES[name])
        except ImportError:
            continue
        found.append(name)
    return found


def evaluate(config_json: Mapping[str, Any], entry: Path = ENTRY, engine: str = "auto") -> tuple[dict[str, Any], str]:
    """Evaluate ``entry`` with ``config_json`` (:func:`provisioning.jsonnetconfig.jsonnet_config`) as its top-level
    argument ``config``.

    Returns:
        The output object and the name of the binding that produced it.

    Raises:
        RenderError: naming the file and line Jsonnet reported, or that no binding is installed.
    """
    name = _pick(engine)
    binding = importlib.import_module(ENGINES[name])
    try:
        text = binding.evaluate_file(str(entry), tla_codes={"config": json.dumps(config_json)})
    except RuntimeError as exc:
        raise _render_error(str(exc), entry) from None
    return json.loads(text), name


def render(config: Config, out_dir: str | os.PathLike[str] | None = None, engine: str = "auto",
           entry: str | os.PathLike[str] | None = None) -> Rendered:
    """Evaluate the dashboards and alerts with ``config`` and write them under ``out_dir`` (default build/).

    Writes dashboards/<folder uid>/<name>.json, Grafana's dashboard-provider, datasource and notification
    template files, the Prometheus and Loki rule files and the Grafana-managed alert groups (JSON). Dashboards
    no longer rendered (or rendered into another folder) are removed from dashboards/.

    Raises:
        RenderError: Jsonnet failed; the message names the file and line.
    """
    out = Path(out_dir) if out_dir is not None else DEFAULT_OUT
    started = time.perf_counter()
    output, name = evaluate(jsonnet_config(config), Path(entry) if entry is not None else ENTRY, engine)
    seconds = time.perf_counter() - started

    dashboards_dir = (out / DASHBOARDS_DIR).resolve()
    provisioning = output["grafanaProvisioning"]
    folder_of = output["grafanaDashboardFolders"]
    _set_provider_paths(provisioning, str(dashboards_dir))

    files = []
    for file_name, dashboard in sorted(output["grafanaDashboards"].items()):
        path = dashboards_dir / folder_of[file_name] / file_name
        files.append(_write(path, json.dumps(dashboard, indent=2, sort_keys=True) + "\n"))
    for stale in sorted(set(dashboards_dir.rglob("*.json")) - set(files)):
        stale.unlink()
    for folder in dashboards_dir.iterdir():
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    files.extend(_write_provisioning(out, provisioning))
    files.append(_write(out / PROMETHEUS_RULES_FILE, _yaml(output["prometheusRules"])))
    files.append(_write(out / LOKI_RULES_FILE, _yaml(output["lokiRules"])))
    files.append(_write(out / GRAFANA_ALERTS_FILE, json.dumps(output["grafanaAlerts"], indent=2) + "\n"))

    return Rendered(
        out_dir=out,
        engine=name,
        seconds=seconds,
        dashboards=output["grafanaDashboards"],
        prometheus_rules=output["prometheusRules"],
        loki_rules=output["lokiRules"],
        loki_rules_by_tenant=output["lokiRulesByTenant"],
        grafana_alerts=output["grafanaAlerts"],
        provisioning=provisioning,
        files=tuple(files),
        folders=output["grafanaFolders"],
        dashboard_folders=folder_of,
        templates=output["grafanaTemplates"],
    )


# docker-compose.yml's Grafana reaches the servers by service name, and reads the dashboards where compose mounts
# build/dashboards.
COMPOSE_ENDPOINTS = {"loki": "http://loki:3100", "prometheus": "http://prometheus:9090",
                     "alertmanager": "http://alertmanager:9093"}
COMPOSE_DASHBOARDS = "/var/lib/grafana/dashboards"


def render_compose_provisioning(config: Config, out_dir: str | os.PathLike[str], engine: str = "auto") -> Path:
    """Write Grafana's datasource and dashboard-provider files for docker-compose's Grafana under ``out_dir``.

    The same Jsonnet as `render`, from the same tracklog.yaml, with the servers' URLs as the containers see them:
    tracklog.yaml stays the one place the datasources are defined. Notification templates are left out: on a compose
    Grafana, `tracklog apply` writes them with the contact points that use them.

    Returns:
        The provisioning directory to mount at /etc/grafana/provisioning.
    """
    output = evaluate(jsonnet_config(config, COMPOSE_ENDPOINTS), ENTRY, engine)[0]
    provisioning = {key: output["grafanaProvisioning"][key] for key in ("datasources", "dashboards")}
    _set_provider_paths(provisioning, COMPOSE_DASHBOARDS)
    out = Path(out_dir)
    _write_provisioning(out, provisioning)
    return out / PROVISIONING_DIR


def _set_provider_paths(provisioning: dict[str, Any], dashboards_dir: str) -> None:
    for provider in provisioning["dashboards"]["providers"]:
        provider["options"]["path"] = f"{dashboards_dir}/{provider['folderUid']}"


def _write_provisioning(out: Path, provisioning: dict[str, Any]) -> list[Path]:
    files = {"dashboards": PROVIDER_FILE, "datasources": DATASOURCES_FILE, "templates": TEMPLATES_FILE}
    return [_write(out / files[key], _yaml(provisioning[key])) for key in files if key in provisioning]


def _pick(engine: str) -> str:
    if engine == "auto":
        found = available_engines()
        if not found:
            raise RenderError("no Jsonnet binding is installed: pip install gojsonnet (or jsonnet)")
        return found[0]
    if engine not in ENGINES:
        raise RenderError(f"unknown Jsonnet engine {engine!r}; choose auto, {', '.join(ENGINES)}")
    if engine not in available_engines():
        raise RenderError(f"the {engine} binding is not installed: pip install {engine}")
    return engine


def _render_error(text: str, entry: Path) -> RenderError:
    """Turn a binding's error text into a RenderError at the innermost file:line it names."""
    first_line = text.strip().splitlines()[0] if text.strip() else "Jsonnet failed"
    message = _KIND.sub("", first_line)
    location = _LOCATION.search(text)
    if location is None:
        return RenderError(message, file=str(entry), detail=text)
    if message.startswith(location.group(0)):  # static errors put the location before the message
        message = message[len(location.group(0)):]
    file = location.group("file")
    with contextlib.suppress(ValueError):  # name files of the project relative to it: dashboards/x.libsonnet
        file = str(Path(file).resolve().relative_to(entry.resolve().parent))
    return RenderError(message.strip() or first_line, file=file, line=int(location.group("line")), detail=text)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (runbooks) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100_000,
                     allow_unicode=True)


def _write(path: Path, text: str) -> Path:
    write_atomic(path, text)
    return path
