"""docker-compose.yml, checked statically (no Docker engine here): it parses, pins our versions, mounts what exists."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from provisioning import config
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
