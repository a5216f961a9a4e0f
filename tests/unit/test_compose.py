"""docker-compose.yml, checked statically (no Docker engine here): it parses, pins our versions, mounts what exists."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from provisioning import config
from provisioning.render import COMPOSE_DASHBOARDS, COMPOSE_ENDPOINTS, render, render_compose_provisioning
from provisioning.stack import Stack
from provisioning.stack.servers import read_versions

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_images_are_the_pinned_versions(compose):
    versions = read_versions(ROOT / "stack")
    images = {name: svc["image"] for name, svc in compose["services"].items()}
    assert images["loki"] == f"grafana/loki:{versions['LOKI_VERSION']}"
    assert images["prometheus"] == f"prom/prometheus:v{versions['PROMETHEUS_VERSION']}"
    assert images["alertmanager"] == f"prom/alertmanager:v{versions['ALERTMANAGER_VERSION']}"
    assert images["grafana"] == f"grafana/grafana-oss:{versions['GRAFANA_VERSION']}"


def test_every_mounted_file_exists_after_compose_config(compose, tmp_path, monkeypatch):
    stack = Stack(config.load(ROOT / "tracklog.yaml"))
    rendered = stack.compose_config(tmp_path / "build" / "compose")
    render_compose_provisioning(stack.config, tmp_path / "build" / "compose")  # as `tracklog stack compose-config`
    texts = {name: (rendered / name / ("loki.yaml" if name == "loki" else f"{name}.yml")).read_text()
             for name in ("loki", "prometheus", "alertmanager")}
    for name, text in texts.items():
        assert "${" not in text, f"{name}: an unfilled placeholder"
    assert "127.0.0.1" not in texts["prometheus"], "containers cannot reach each other on 127.0.0.1"
    assert "http_listen_address: 0.0.0.0" in texts["loki"], "Loki must listen beyond its container's loopback"
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith("./"):
                continue  # a named volume
            if source.startswith("./build/compose/"):
                path = tmp_path / source[2:]
            elif source.startswith("./build/"):
                continue  # written by `tracklog render`, tested with the renderer
            else:
                path = ROOT / source[2:]
            assert path.exists(), f"{name} mounts {source}, which does not exist"


def test_prometheus_config_template_is_valid_for_both_targets(tmp_path):
    import shutil
    import subprocess

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (make test installs Debian's prometheus package)")
    stack = Stack(config.load(ROOT / "tracklog.yaml"))
    native = stack.render(next(s for s in stack.servers if s.name == "prometheus"), tmp_path / "native")
    compose = stack.compose_config(tmp_path / "compose") / "prometheus"
    for directory in (native, compose):
        result = subprocess.run([promtool, "check", "config", str(directory / "prometheus.yml")],
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_datasources_are_rendered_from_tracklog_yaml_for_the_containers(compose, tmp_path):
    cfg = config.load(ROOT / "tracklog.yaml")
    provisioning = render_compose_provisioning(cfg, tmp_path / "build" / "compose")
    host = render(cfg, out_dir=tmp_path / "host")
    datasources = yaml.safe_load((provisioning / "datasources" / "tracklog.yaml").read_text())["datasources"]

    # The same datasources as `tracklog render` (and apply) define, only with the URLs containers reach.
    def without_url(items: list[dict]) -> list[dict]:
        return [{k: v for k, v in d.items() if k != "url"} for d in items]

    assert without_url(datasources) == without_url(host.provisioning["datasources"]["datasources"])
    for datasource in datasources:
        service, port = datasource["url"].removeprefix("http://").split(":")
        assert datasource["url"] == COMPOSE_ENDPOINTS[datasource["uid"]]
        assert service in compose["services"], f"{datasource['uid']} points at {service}, not a compose service"
        assert any(p.split(":")[-1] == port for p in compose["services"][service].get("ports", [])), datasource

    # Each dashboard folder's provider reads a directory inside what compose mounts from build/dashboards.
    mounts = dict(v.split(":", 1)[::-1] for v in compose["services"]["grafana"]["volumes"] if v.startswith("./"))
    assert mounts[COMPOSE_DASHBOARDS] == "./build/dashboards"
    assert mounts["/etc/grafana/provisioning"] == "./" + provisioning.relative_to(tmp_path).as_posix()
    providers = yaml.safe_load((provisioning / "dashboards" / "tracklog.yaml").read_text())["providers"]
    assert {p["folderUid"] for p in providers} == set(host.dashboard_folders.values())
    for provider in providers:
        folder = provider["options"]["path"].removeprefix(COMPOSE_DASHBOARDS + "/")
        assert (host.out_dir / "dashboards" / folder).is_dir(), provider


def test_no_second_definition_of_grafanas_datasources():
    assert not (ROOT / "stack" / "grafana").exists(), "tracklog.yaml and `tracklog render` define them"
    for name, service in yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"].items():
        for volume in service.get("volumes", []):
            assert not volume.startswith("./stack/grafana"), f"{name} mounts {volume}"
