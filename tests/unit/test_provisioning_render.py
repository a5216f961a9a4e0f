"""provisioning.render: every dashboard and rule renders from tracklog.yaml, with stable uids and fixed datasources."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from provisioning import config
from provisioning.errors import RenderError
from provisioning.render import (
    DATASOURCES_FILE,
    GRAFANA_ALERTS_FILE,
    LOKI_RULES_FILE,
    PROMETHEUS_RULES_FILE,
    PROVIDER_FILE,
    TEMPLATES_FILE,
    Rendered,
    available_engines,
    render,
)

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = {"api-health.json", "security.json", "system.json", "logs-retention.json", "troubleshooting.json",
              "tracking-page.json"}
DATASOURCES = {"loki": "loki", "prometheus": "prometheus"}  # uid -> type


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render(config.load(ROOT / "tracklog.yaml"), out_dir=tmp_path_factory.mktemp("build"))


def _panels(dashboard: dict) -> list[dict]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def _rule(rendered: Rendered, name: str) -> dict:
    return next(r for g in rendered.prometheus_rules["groups"] for r in g["rules"] if r["alert"] == name)


def test_every_dashboard_renders_and_is_written(rendered: Rendered) -> None:
    assert set(rendered.dashboards) == DASHBOARDS
    for name, dashboard in rendered.dashboards.items():
        folder = rendered.dashboard_folders[name]
        written = json.loads((rendered.out_dir / "dashboards" / folder / name).read_text(encoding="utf-8"))
        assert written == dashboard
        assert dashboard["title"].startswith("Tracklog / ")
        assert _panels(dashboard), f"{name} has no panels"
        assert "tracklog" in dashboard["tags"]
        assert [v["name"] for v in dashboard["templating"]["list"]][:2] == ["env", "service"]
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids))


def test_uids_are_derived_from_names_unique_and_short(rendered: Rendered, tmp_path: Path) -> None:
    uids = {name: d["uid"] for name, d in rendered.dashboards.items()}
    assert uids == {name: "tl-" + name.removesuffix(".json") for name in DASHBOARDS}
    alert_uids = [r["uid"] for g in rendered.grafana_alerts for r in g["rules"]]
    for uid in [*uids.values(), *alert_uids]:
        assert len(uid) <= 40, uid
        assert re.fullmatch(r"[a-z0-9-]+", uid), uid
    assert len(set(alert_uids)) == len(alert_uids)
    again = render(config.load(ROOT / "tracklog.yaml"), out_dir=tmp_path)
    assert {n: d["uid"] for n, d in again.dashboards.items()} == uids
    assert [r["uid"] for g in again.grafana_alerts for r in g["rules"]] == alert_uids


def test_every_panel_and_query_has_a_fixed_datasource(rendered: Rendered) -> None:
    for name, dashboard in rendered.dashboards.items():
        for panel in _panels(dashboard):
            where = f"{name}: panel {panel['title']!r}"
            assert panel.get("datasource", {}).get("uid") in DATASOURCES, where
            assert panel["targets"], where
            for target in panel["targets"]:
                ds = target["datasource"]
                assert DATASOURCES.get(ds["uid"]) == ds["type"], where
                assert target["expr"], where
        for variable in dashboard["templating"]["list"]:
            if "datasource" in variable:
                assert variable["datasource"]["uid"] in DATASOURCES


def test_alert_rules_carry_severity_team_runbook_and_dashboard(rendered: Rendered) -> None:
    dashboard_uids = {d["uid"] for d in rendered.dashboards.values()}
    rules = [r for g in rendered.prometheus_rules["groups"] + rendered.loki_rules["groups"] for r in g["rules"]]
    assert {r["alert"] for r in rules} >= {
        "TrackingApiHighErrorRate", "TrackingApiHighLatency", "DatabaseTimeoutsSpiking", "RepeatedFailedLogins",
        "LoginFromUnexpectedCountry", "AdminPermissionChanged", "ExporterDroppingRecords", "ServiceStoppedLogging",
    }
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning")
        assert rule["labels"]["team"]
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]
        assert rule["annotations"]["dashboard_url"].rsplit("/", 1)[1] in dashboard_uids
    # The security alerts sit with the security dashboards, in the folder only the security team sees.
    assert {g["title"]: g["folderUID"] for g in rendered.grafana_alerts} == {
        "tracklog-api": "tracklog", "tracklog-pipeline": "tracklog", "tracklog-security": "tracklog-security"}
    for group in rendered.grafana_alerts:
        assert group["interval"] == 60
        for rule in group["rules"]:
            assert (rule["folderUID"], rule["ruleGroup"]) == (group["folderUID"], group["title"])
            assert rule["condition"] == "B"
            assert [d["refId"] for d in rule["data"]] == ["A", "B"]
            assert rule["data"][0]["datasourceUid"] in DATASOURCES
            assert rule["data"][0]["model"]["expr"]
            assert rule["data"][1]["model"]["type"] == "math"
            assert rule["annotations"]["__dashboardUid__"] in dashboard_uids
    logql = [r["expr"] for g in rendered.loki_rules["groups"] for r in g["rules"]]
    assert any(e.startswith("sum by (env, client_address) (count_over_time({log_type=\"security\"}") for e in logql)


def test_files_are_written_in_their_formats(rendered: Rendered) -> None:
    out = rendered.out_dir
    providers = yaml.safe_load((out / PROVIDER_FILE).read_text(encoding="utf-8"))["providers"]
    dashboards = (out / "dashboards").resolve()
    assert [(p["folderUid"], p["folder"], p["options"]["path"]) for p in providers] == [
        ("tracklog", "Delivery tracking", str(dashboards / "tracklog")),
        ("tracklog-security", "Delivery tracking / Security", str(dashboards / "tracklog-security"))]
    assert len({p["name"] for p in providers}) == len(providers)
    templates = yaml.safe_load((out / TEMPLATES_FILE).read_text(encoding="utf-8"))
    assert templates == {"apiVersion": 1, "templates": [{"orgId": 1, **t} for t in rendered.templates]}
    datasources = yaml.safe_load((out / DATASOURCES_FILE).read_text(encoding="utf-8"))["datasources"]
    endpoints = config.load(ROOT / "tracklog.yaml").endpoints  # tracklog.yaml's URLs, or TRACKLOG_*_URL
    assert {d["uid"]: d["url"] for d in datasources} == {
        "loki": endpoints.loki.url, "prometheus": endpoints.prometheus, "alertmanager": endpoints.alertmanager}
    assert "secureJsonData" not in datasources[0]  # no secret is named in tracklog.yaml's Loki endpoint
    assert yaml.safe_load((out / PROMETHEUS_RULES_FILE).read_text(encoding="utf-8")) == rendered.prometheus_rules
    assert yaml.safe_load((out / LOKI_RULES_FILE).read_text(encoding="utf-8")) == rendered.loki_rules
    assert json.loads((out / GRAFANA_ALERTS_FILE).read_text(encoding="utf-8")) == rendered.grafana_alerts


def test_a_dashboard_no_longer_rendered_is_removed(tmp_path: Path) -> None:
    stale = [tmp_path / "dashboards" / "old.json", tmp_path / "dashboards" / "tracklog" / "security.json",
             tmp_path / "dashboards" / "gone-folder" / "x.json"]  # the old flat layout, a moved one, a gone folder
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}", encoding="utf-8")
    render(config.load(ROOT / "tracklog.yaml"), out_dir=tmp_path)
    assert not any(path.exists() for path in stale)
    assert not (tmp_path / "dashboards" / "gone-folder").exists()
    assert (tmp_path / "dashboards" / "tracklog-security" / "security.json").exists()


def test_security_dashboards_get_their_own_folder_open_to_the_security_team(rendered: Rendered) -> None:
    assert rendered.folders == [
        {"uid": "tracklog", "title": "Delivery tracking"},
        {"uid": "tracklog-security", "title": "Delivery tracking / Security",
         "permissions": [{"team": "security", "permission": "View"}]},
    ]
    assert rendered.dashboard_folders == {name: "tracklog-security" if name == "security.json" else "tracklog"
                                          for name in DASHBOARDS}
    assert "folderUid" not in rendered.dashboards["security.json"]  # the folder is metadata, not dashboard JSON


def test_the_security_folder_and_permission_come_from_tracklog_yaml(tmp_path: Path) -> None:
    text = (ROOT / "tracklog.yaml").read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^(\s*security_team:)\s*\S+", r"\g<1> secops", text)
    assert n == 1
    text, n = re.subn(r"(?m)^(\s*security_permission:)\s*\S+", r"\g<1> Edit", text)
    assert n == 1
    text, n = re.subn(r"(?m)^(\s*security_folder_uid:)\s*\S+", r"\g<1> sec-dash", text)
    assert n == 1
    copied = tmp_path / "tracklog.yaml"
    copied.write_text(text, encoding="utf-8")

    rendered = render(config.load(copied), out_dir=tmp_path / "build")

    assert rendered.folders[1]["uid"] == "sec-dash"
    assert rendered.folders[1]["permissions"] == [{"team": "secops", "permission": "Edit"}]
    assert rendered.dashboard_folders["security.json"] == "sec-dash"
    assert (tmp_path / "build" / "dashboards" / "sec-dash" / "security.json").exists()
    team_labels = {r["labels"]["team"] for g in rendered.loki_rules["groups"] for r in g["rules"]}
    assert "secops" in team_labels  # the same name labels the security alerts


def test_notification_templates_are_rendered_stripped_from_alerts_templates(rendered: Rendered) -> None:
    source = (ROOT / "alerts" / "templates" / "tracklog.tmpl").read_text(encoding="utf-8")
    assert rendered.templates == [{"name": "tracklog", "template": source.strip()}]


def test_thresholds_come_from_tracklog_yaml(tmp_path: Path) -> None:
    text = (ROOT / "tracklog.yaml").read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^(\s*api_error_rate_percent:)\s*\S+", r"\g<1> 7.5", text)
    assert n == 1
    text, n = re.subn(r"(?m)^(\s*failed_logins_per_ip:)\s*\S+", r"\g<1> 42", text)
    assert n == 1
    copied = tmp_path / "tracklog.yaml"
    copied.write_text(text, encoding="utf-8")

    rendered = render(config.load(copied), out_dir=tmp_path / "build")

    assert _rule(rendered, "TrackingApiHighErrorRate")["expr"].endswith(" > 7.5")
    panels = rendered.dashboards["api-health.json"]["panels"]
    error_rate = next(p for p in panels if p["title"].startswith("Error rate"))
    assert [s["value"] for s in error_rate["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None, 7.5]
    grafana = next(r for g in rendered.grafana_alerts for r in g["rules"] if r["title"] == "TrackingApiHighErrorRate")
    assert grafana["data"][1]["model"]["expression"] == "$A > 7.5"
    failed = next(r for g in rendered.loki_rules["groups"] for r in g["rules"] if r["alert"] == "RepeatedFailedLogins")
    assert failed["expr"].endswith(" > 42")
    assert "42 failed logins" in failed["annotations"]["summary"]


def _broken_copy(tmp_path: Path, file: str, line: int, text: str) -> Path:
    """A copy of the Jsonnet tree with ``text`` inserted as line ``line`` of ``file``."""
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(ROOT / "tracklog.jsonnet", tree / "tracklog.jsonnet")
    shutil.copytree(ROOT / "dashboards", tree / "dashboards")
    shutil.copytree(ROOT / "alerts", tree / "alerts")
    target = tree / file
    lines = target.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(line - 1, text + "\n")
    target.write_text("".join(lines), encoding="utf-8")
    return tree / "tracklog.jsonnet"


@pytest.mark.parametrize("engine", available_engines())
def test_a_syntax_error_names_file_and_line(tmp_path: Path, engine: str) -> None:
    entry = _broken_copy(tmp_path, "dashboards/system.libsonnet", 6, "local broken = ;")
    with pytest.raises(RenderError) as caught:
        render(config.load(ROOT / "tracklog.yaml"), out_dir=tmp_path / "out", engine=engine, entry=entry)
    assert caught.value.file == "dashboards/system.libsonnet"
    assert caught.value.line == 6
    assert str(caught.value).startswith("dashboards/system.libsonnet:6: ")


@pytest.mark.parametrize("engine", available_engines())
def test_a_runtime_error_names_file_and_line(tmp_path: Path, engine: str) -> None:
    check = "  assert std.objectHas($._config.thresholds, 'x') : 'no such threshold',"
    entry = _broken_copy(tmp_path, "alerts/api.libsonnet", 7, check)
    with pytest.raises(RenderError) as caught:
        render(config.load(ROOT / "tracklog.yaml"), out_dir=tmp_path / "out", engine=engine, entry=entry)
    assert (caught.value.file, caught.value.line) == ("alerts/api.libsonnet", 7)
    assert "no such threshold" in str(caught.value)


def test_engines_render_the_same(tmp_path: Path) -> None:
    engines = available_engines()
    if len(engines) < 2:
        pytest.skip(f"only {engines} installed; nothing to compare")
    cfg = config.load(ROOT / "tracklog.yaml")
    go, cpp = (render(cfg, out_dir=tmp_path / e, engine=e) for e in ("gojsonnet", "jsonnet"))
    assert (go.dashboards, go.prometheus_rules, go.loki_rules, go.grafana_alerts) == (
        cpp.dashboards, cpp.prometheus_rules, cpp.loki_rules, cpp.grafana_alerts)


def test_an_unknown_engine_is_a_render_error(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="unknown Jsonnet engine"):
        render(config.load(ROOT / "tracklog.yaml"), out_dir=tmp_path, engine="sjsonnet")


def test_loki_secrets_are_referenced_by_variable_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOKI_PASSWORD", "s3cret-value")
    text = (ROOT / "tracklog.yaml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^(\s*)username_env: ""', r"\1username_env: LOKI_USER", text, count=1)
    text = re.sub(r'(?m)^(\s*)password_env: ""', r"\1password_env: LOKI_PASSWORD", text, count=1)
    text = re.sub(r'(?m)^(\s*)tenant: ""', r"\1tenant: fleet", text, count=1)
    copied = tmp_path / "tracklog.yaml"
    copied.write_text(text, encoding="utf-8")

    rendered = render(config.load(copied), out_dir=tmp_path / "build")

    loki = rendered.provisioning["datasources"]["datasources"][0]
    assert loki["basicAuthUser"] == "${LOKI_USER}"
    assert loki["secureJsonData"] == {"basicAuthPassword": "${LOKI_PASSWORD}", "httpHeaderValue1": "fleet"}
    assert loki["jsonData"]["httpHeaderName1"] == "X-Scope-OrgID"
    assert "s3cret-value" not in (tmp_path / "build" / DATASOURCES_FILE).read_text(encoding="utf-8")
