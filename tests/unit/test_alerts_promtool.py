"""The rendered Prometheus alert rules, run by `promtool test rules` over the input series in tests/unit/data."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from provisioning import config
from provisioning.render import PROMETHEUS_RULES_FILE, render

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
PROMTOOL = shutil.which("promtool")

pytestmark = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (Debian: apt-get install prometheus; `make test` installs it)"
)


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("render")
    render(config.load(ROOT / "tracklog.yaml"), out_dir=out)
    return out / PROMETHEUS_RULES_FILE


def _expand(template: str, labels: dict[str, str]) -> str:
    """Expand `{{ $labels.x }}` as Prometheus does (the rules use no other template)."""
    return re.sub(r"\{\{\s*\$labels\.(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template)


def _with_annotations(test_file: Path, rules_file: Path, out: Path) -> Path:
    """The test file, pointed at the rendered rules, with each expected alert's annotations from its rule."""
    spec: dict[str, Any] = yaml.safe_load(test_file.read_text(encoding="utf-8"))
    rules = yaml.safe_load(rules_file.read_text(encoding="utf-8"))
    by_name: dict[str, list[dict[str, Any]]] = {}
    for group in rules["groups"]:
        for rule in group["rules"]:
            by_name.setdefault(rule["alert"], []).append(rule)
    spec["rule_files"] = [str(rules_file)]
    for test in spec["tests"]:
        for case in test.get("alert_rule_test", []):
            for alert in case.get("exp_alerts") or []:
                labels = {str(k): str(v) for k, v in alert["exp_labels"].items()}
                # Of the rules with this name (one per service for ServiceStoppedLogging), the one whose own
                # labels the expected alert carries.
                rule = next(r for r in by_name[case["alertname"]]
                            if all(labels.get(k) == str(v) for k, v in r.get("labels", {}).items()))
                alert["exp_annotations"] = {k: _expand(v, labels) for k, v in rule.get("annotations", {}).items()}
    path = out / test_file.name
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def _promtool_test(test_file: Path, rules_file: Path, tmp_path: Path) -> None:
    path = _with_annotations(test_file, rules_file, tmp_path)
    result = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"promtool test rules {test_file.name} failed:\n{result.stdout}{result.stderr}"


def test_rendered_rules_pass_promtool_check(rules_file: Path) -> None:
    result = subprocess.run([PROMTOOL, "check", "rules", str(rules_file)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_error_rate_alert_fires_at_5_percent_and_not_at_half_a_percent(rules_file: Path, tmp_path: Path) -> None:
    _promtool_test(DATA / "promtool_api_error_rate.yaml", rules_file, tmp_path)


def test_dropped_records_and_silent_service_alerts_fire(rules_file: Path, tmp_path: Path) -> None:
    _promtool_test(DATA / "promtool_pipeline.yaml", rules_file, tmp_path)


def test_a_wrong_expectation_fails(rules_file: Path, tmp_path: Path) -> None:
    """The harness can fail: expecting the error-rate alert at 0.5% errors must make promtool fail."""
    spec = yaml.safe_load((DATA / "promtool_api_error_rate.yaml").read_text(encoding="utf-8"))
    half_percent = spec["tests"][1]
    half_percent["alert_rule_test"][0]["exp_alerts"] = [
        {"exp_labels": {"severity": "critical", "team": "tracking", "service": "tracking-api"}}
    ]
    spec["tests"] = [half_percent]
    wrong = tmp_path / "in" / "wrong.yaml"
    wrong.parent.mkdir()
    wrong.write_text(yaml.safe_dump(spec), encoding="utf-8")
    path = _with_annotations(wrong, rules_file, tmp_path)
    result = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "TrackingApiHighErrorRate" in result.stdout + result.stderr
