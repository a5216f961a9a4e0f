"""Dependencies point one way, checked on the source (every import, also lazy and TYPE_CHECKING ones).

- exporters (the library services import) imports nothing of provisioning, demo, bench or tests;
- the dev stack runner (provisioning.stack) is imported only by the stack command, the demo and tests;
- only provision.py (the pipeline) and tests import the Grafana target (provisioning.grafana);
- importing exporters loads none of the CLI's dependencies, so `pip install tracklog` (without [cli]) serves it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(package: str) -> dict[str, set[str]]:
    """module file -> absolute modules it imports (anywhere in the file)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def _offenders(package: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    return [f"{file} imports {name}" for file, names in _imports(package).items()
            if not file.startswith(allowed)
            for name in sorted(names) if name == forbidden or name.startswith(forbidden)]


def test_exporters_import_nothing_above_them():
    above = {"provisioning", "demo", "bench", "tests"}
    assert [f"{file} imports {name}" for file, names in _imports("exporters").items()
            for name in sorted(names) if name.split(".")[0] in above] == []


def test_the_stack_runner_is_used_only_by_the_stack_command():
    offenders = [o for o in _offenders("provisioning", ("provisioning.stack",), ("provisioning/stack/",
                                                                                  "provisioning/commands/stack.py"))
                 if not o.split(" imports ")[1].startswith("provisioning.stacktarget")]
    assert offenders == []


def test_only_the_pipeline_talks_to_grafana():
    offenders = [o for o in _offenders("provisioning", ("provisioning.grafana",), ("provisioning/grafana/",))
                 if not o.startswith("provisioning/provision.py")]
    assert offenders == []


def test_importing_exporters_loads_none_of_the_clis_dependencies():
    code = ("import sys, exporters, exporters.agent, exporters.handler, exporters.metrics, exporters.loki.client, "
            "exporters.integrations.asgi, exporters.integrations.structlog; "
            "heavy = ('boto3', 'botocore', 'grafana_client', '_gojsonnet', '_jsonnet', 'cryptography', 'requests', "
            "'provisioning', 'jsonschema'); "
            "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_the_checks_see_a_violation():
    """The source walk finds imports in functions and TYPE_CHECKING blocks (what the checks above rely on)."""
    names = _imports("exporters")
    assert any("exporters.loki.client" in found for found in names.values())
    tree = ast.parse("if TYPE_CHECKING:\n    from provisioning.config import Config\ndef f():\n    import boto3\n")
    seen = {n.module if isinstance(n, ast.ImportFrom) else n.names[0].name for n in ast.walk(tree)
            if isinstance(n, ast.Import | ast.ImportFrom)}
    assert seen == {"provisioning.config", "boto3"}
