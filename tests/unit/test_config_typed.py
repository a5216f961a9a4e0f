"""tracklog.yaml is read once into a typed model: every section checked with its line, and the Jsonnet library
gets that model (provisioning/jsonnetconfig.py), never the file as parsed."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from provisioning import config, render
from provisioning.errors import ConfigError, RenderError
from provisioning.jsonnetconfig import jsonnet_config, security_section
from provisioning.securityconfig import SecurityConfig
from provisioning.thresholds import Thresholds
from tests.unit.configs import ROOT, config_with

SHIPPED = config.load(ROOT / "tracklog.yaml")


def _library_defaults() -> dict:
    """dashboards/lib/config.libsonnet's own defaults, evaluated by Jsonnet (the library renders on its own)."""
    binding = __import__(render.ENGINES[render.available_engines()[0]])
    text = binding.evaluate_snippet(
        "defaults", "local d = import 'dashboards/lib/config.libsonnet'; "
                    "{ thresholds: d._config.thresholds, security: d._config.security }",
        jpathdir=[str(ROOT)])
    return json.loads(text)


def test_thresholds_left_out_of_tracklog_yaml_default_to_what_the_jsonnet_library_uses() -> None:
    assert dataclasses.asdict(Thresholds()) == _library_defaults()["thresholds"]


def test_the_security_defaults_are_the_jsonnet_librarys() -> None:
    typed = security_section(SecurityConfig())
    library = _library_defaults()["security"]
    for key in ("allowed_countries", "allowed_networks", "admin_roles", "role_field"):
        assert typed[key] == library[key], key
    assert typed["attacks"] == library["attacks"]


def test_the_jsonnet_gets_every_section_it_reads_from_the_typed_model() -> None:
    given = jsonnet_config(SHIPPED)
    assert given["thresholds"]["api_error_rate_percent"] == SHIPPED.thresholds.api_error_rate_percent
    assert given["security"]["populations"][1] == {"name": "staff", "roles": ["support", "dispatcher"],
                                                   "user_ids": ["s-[0-9]+"]}
    assert given["security"]["attacks"]["failure_surge"]["baseline"] == "6h"
    assert given["endpoints"]["loki"]["url"] == SHIPPED.endpoints.loki.url
    assert given["retention_rules"][0]["selector"].startswith("{log_type=")
    # Sections the Jsonnet never reads stay out of it: the model decides what the dashboards see.
    assert not {"agent", "stack", "archive", "contact_points", "smtp", "redaction"} & set(given)


def test_an_endpoint_url_from_the_environment_reaches_the_rendered_datasource(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRACKLOG_PROMETHEUS_URL", "http://prometheus.internal:9090")
    output, _ = render.evaluate(jsonnet_config(config.load(ROOT / "tracklog.yaml")))
    urls = {ds["type"]: ds["url"] for ds in output["grafanaProvisioning"]["datasources"]["datasources"]}
    assert urls["prometheus"] == "http://prometheus.internal:9090"


def test_a_changed_threshold_reaches_the_rendered_rule(tmp_path: Path) -> None:
    cfg = config_with(tmp_path, r"^  api_error_rate_percent: 1 ", "  api_error_rate_percent: 2.5 ")
    output, _ = render.evaluate(jsonnet_config(cfg))
    exprs = [r["expr"] for g in output["prometheusRules"]["groups"] for r in g["rules"]
             if r.get("alert") == "TrackingApiHighErrorRate"]
    assert exprs
    assert all(e.endswith("> 2.5") for e in exprs)


@pytest.mark.parametrize(("pattern", "replacement", "problem"), [
    (r"^thresholds:\n", "thresholds:\n  api_error_rate_pct: 2\n", "thresholds.api_error_rate_pct: unknown threshold"),
    (r"^  failed_logins_window: 5m", "  failed_logins_window: five minutes", "thresholds.failed_logins_window: "),
    (r"^  failed_logins_per_ip: 10 ", "  failed_logins_per_ip: 2.5 ", "must be a whole number"),
    (r"^  api_p95_latency_seconds: 0.5 ", "  api_p95_latency_seconds: fast ", "must be a number"),
    (r"^project: delivery-tracking", "project: delivery-tracking\nthreshold:\n  x: 1", "threshold: unknown section"),
    (r"^  folder_uid: tracklog\b", "  folder_uid: tracklog\n  folder_id: 3", "grafana.folder_id: unknown key"),
    (r"^  allowed_countries: \[DE, AT", "  allowed_countries: [Germany, AT", "'Germany' is not an ISO 3166"),
    (r"^  disable: \[\]", "  disable: [emial]\n  colour: red", "redaction: unknown key(s) colour"),
    (r"^  patterns: \{\}", "  patterns: {voucher: 'VCH-[A-Z'}", "redaction"),
])
def test_a_mistake_in_any_section_is_named_with_its_line(tmp_path: Path, pattern: str, replacement: str,
                                                         problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        config_with(tmp_path, pattern, replacement)
    line = next(str(e) for e in err.value.reasons if problem in str(e))
    assert line.startswith(f"{tmp_path / 'tracklog.yaml'}:")
    assert int(line.split(":")[1]) > 0


def test_camel_case_knobs_of_the_library_pass_and_an_unknown_one_is_refused(tmp_path: Path) -> None:
    cfg = config_with(tmp_path, r"^project: delivery-tracking", "project: delivery-tracking\nalertRateWindow: 2m")
    assert cfg.jsonnet_knobs == {"alertRateWindow": "2m"}
    output, _ = render.evaluate(jsonnet_config(cfg))
    assert "[2m]" in json.dumps(output["prometheusRules"])
    typo = config_with(tmp_path, r"^project: delivery-tracking", "project: delivery-tracking\nalertRateWindw: 2m")
    with pytest.raises(RenderError, match=r"unknown key.*alertRateWindw"):
        render.evaluate(jsonnet_config(typo))


def test_lines_of_keys_are_kept_for_messages_that_point_into_the_file() -> None:
    text = (ROOT / "tracklog.yaml").read_text().splitlines()
    line = SHIPPED.line_of("thresholds.db_timeouts_per_minute")
    assert text[line - 1].strip().startswith("db_timeouts_per_minute:")
    assert SHIPPED.line_of("thresholds.nope") == 0


def test_overrides_are_checked_like_the_file_and_leave_it_untouched(tmp_path: Path) -> None:
    path = ROOT / "tracklog.yaml"
    before = path.read_bytes()
    tried = config.load(path, {"thresholds.api_error_rate_percent": 3})
    assert tried.thresholds.api_error_rate_percent == 3
    assert path.read_bytes() == before
    with pytest.raises(ConfigError, match="must be a positive number"):
        config.load(path, {"thresholds.api_error_rate_percent": -1})
    with pytest.raises(ConfigError, match=r"has no thresholds\.nope"):
        config.load(path, {"thresholds.nope": 1})
