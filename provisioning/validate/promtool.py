"""The rendered Prometheus rule file through `promtool check rules`."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from provisioning.render import Rendered
from provisioning.validate.problem import Problem


def _promtool(rendered: Rendered) -> list[Problem]:
    where = "Prometheus rule file"
    promtool = shutil.which("promtool")
    if promtool is None:
        return [Problem(where, "promtool is not installed, so `promtool check rules` did not run "
                               "(Debian: apt-get install prometheus; 'make test' installs it)")]
    with tempfile.TemporaryDirectory(prefix="tracklog-rules-") as tmp:
        path = Path(tmp) / "tracklog.rules.yaml"
        path.write_text(yaml.safe_dump(rendered.prometheus_rules, sort_keys=False), encoding="utf-8")
        result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    if result.returncode == 0:
        return []
    lines = [line.strip() for line in (result.stderr + result.stdout).splitlines()]
    details = [line for line in lines if line and not line.startswith(("Checking ", "SUCCESS", "FAILED"))]
    return [Problem(where, f"promtool check rules: {line}") for line in details] or [
        Problem(where, f"promtool check rules failed with exit code {result.returncode}")]
