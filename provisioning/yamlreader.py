"""tracklog.yaml as parsed YAML that remembers lines, and a reader that collects every problem with its file:line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from provisioning.errors import ConfigError


class LineDict(dict):
    """A mapping that remembers the line of each of its keys (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class LineLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:  # type: ignore[override]
        mapping = LineDict(super().construct_mapping(node, deep=True))
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {k.value: k.start_mark.line + 1 for k, _ in node.value if hasattr(k, "value")}
        return mapping


LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, LineLoader.construct_mapping  # type: ignore[arg-type]
)


class Reader:
    """Walks the parsed YAML, collecting every problem with its line instead of stopping at the first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []

    def problem(self, node: Any, key: str | None, where: str, message: str) -> None:
        self.problem_at(self.line_of(node, key), where, message)

    def problem_at(self, line: int, where: str, message: str) -> None:
        self.problems.append(f"{self.path}:{line}: {where}: {message}")

    def line_of(self, node: Any, key: str | None = None) -> int:
        if not isinstance(node, LineDict):
            return 0
        return node.key_lines.get(key, node.line) if key else node.line

    def place(self, line: int) -> str:
        return f"{self.path}:{line}"

    def mapping(self, node: Any, key: str, where: str) -> LineDict:
        value = node.get(key) if isinstance(node, dict) else None
        if value is None:
            empty = LineDict()
            empty.line = getattr(node, "line", 0)
            empty.key_lines = {}
            return empty
        if not isinstance(value, dict):
            self.problem(node, key, where, f"must be a mapping, got {type(value).__name__}")
            return LineDict()
        return value

    def string(self, node: Any, key: str, where: str, default: str = "") -> str:
        value = node.get(key, default) if isinstance(node, dict) else default
        if value is None:
            return default
        if not isinstance(value, str | int | float | bool):
            self.problem(node, key, where, f"must be a string, got {type(value).__name__}")
            return default
        return str(value)

    def env_name(self, node: Any, key: str, where: str, default: str = "") -> str:
        value = self.string(node, key, where, default)
        if value and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            self.problem(
                node, key, where, f"must name an environment variable (never the secret itself), got {value!r}"
            )
        return value


def override(path: Path, raw: LineDict, key: str, value: Any) -> None:
    """Set the dotted ``key`` of the parsed document to ``value``; ConfigError when the document has no such key."""
    parts = [p for p in key.split(".") if p]
    node: Any = raw
    for depth, part in enumerate(parts[:-1]):
        if not isinstance(node, dict) or not isinstance(node.get(part), dict):
            raise ConfigError([f"{path}: {'.'.join(parts[:depth + 1])} is not a mapping in {path.name}"])
        node = node[part]
    if not parts or not isinstance(node, dict) or parts[-1] not in node:
        known = ", ".join(sorted(str(k) for k in node)) if isinstance(node, dict) else "none"
        raise ConfigError([f"{path}: {path.name} has no {key} (keys there: {known})"])
    node[parts[-1]] = value


def key_lines(node: Any, prefix: str = "") -> dict[str, int]:
    """Every key of the parsed document, dotted, with its line."""
    out: dict[str, int] = {}
    if isinstance(node, LineDict):
        for key, value in node.items():
            dotted = f"{prefix}{key}"
            out[dotted] = node.key_lines.get(key, 0)
            out.update(key_lines(value, dotted + "."))
    return out
