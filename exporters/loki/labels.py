"""Loki label rules: sanitise names, render a label set, keep labels low-cardinality."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class LabelLimits:
    """What Loki's distributor refuses a stream for (``limits_config``): label names per series, and name and
    value lengths in bytes. The defaults are Loki 3's (15 names); Loki 2.2.1 allows 30 (:data:`LOKI_2_2`)."""

    max_names: int = 15
    max_name_length: int = 1024
    max_value_length: int = 2048


LOKI_2_2 = LabelLimits(max_names=30)
LOKI_3 = LabelLimits(max_names=15)


def fit(values: Iterable[tuple[Any, Any]], limits: LabelLimits = LOKI_3) -> tuple[LabelSet, dict[str, str]]:
    """The labels Loki will take, in order of preference, and what cannot be one (name -> value) for the line.

    A label is left out (and returned in the second part) when its name is reserved (``__`` prefix) or too long,
    its value is too long or holds a character that is not printable (Loki 2.2.1 cannot parse the label string it
    makes of one, e.g. a newline or a private-use character), its sanitised name repeats an earlier one, or
    ``limits.max_names`` are taken already.
    Empty values are dropped, as Loki ignores them.
    """
    chosen: dict[str, str] = {}
    rest: dict[str, str] = {}
    for key, value in values:
        if value is None or value == "":
            continue
        try:
            raw, text = str(key), str(value)
        except Exception:  # noqa: S112  a key or value whose __str__ raises: neither label nor line can hold it
            continue
        name = sanitize_name(raw)
        if (name.startswith("__") or len(name) > limits.max_name_length or name in chosen
                or len(chosen) >= limits.max_names or not text.isprintable()
                or len(text.encode("utf-8", "replace")) > limits.max_value_length):
            rest[raw if raw not in rest else f"{raw}#{len(rest)}"] = text
        else:
            chosen[name] = text
    return tuple(sorted(chosen.items())), rest


def render(labels: LabelSet) -> str:
    """Render a label set in Prometheus text form, as Loki's protobuf push expects: {a="x", b="y"}."""
    inner = ", ".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
