"""Loki label rules: sanitise names, render a label set, keep labels low-cardinality."""

from __future__ import annotations

import re

_INVALID = re.compile(r"[^a-zA-Z0-9_]")
LabelSet = tuple[tuple[str, str], ...]

# The labels tracklog puts on a stream. Everything else belongs in the body or structured metadata.
DEFAULT_LABEL_KEYS = ("service", "env", "log_type", "level")


def sanitize_name(name: str) -> str:
    """Return a valid Loki label name: [a-zA-Z_][a-zA-Z0-9_]*, dots and dashes become underscores."""
    clean = _INVALID.sub("_", name)
    if not clean or clean[0].isdigit():
        clean = "_" + clean
    return clean


def label_set(labels: dict[str, object]) -> LabelSet:
    """Sanitised, sorted, hashable label set; empty values are dropped (Loki ignores them)."""
    return tuple(sorted((sanitize_name(k), str(v)) for k, v in labels.items() if v is not None and v != ""))


def render(labels: LabelSet) -> str:
    """Render a label set in Prometheus text form, as Loki's protobuf push expects: {a="x", b="y"}."""
    inner = ", ".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
