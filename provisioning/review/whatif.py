"""What-if: tracklog.yaml values changed for one run (``--set thresholds.X=V``), never written; and which line of
tracklog.yaml holds the threshold of each rule."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from provisioning.config import Config
from provisioning.errors import RenderError
from provisioning.review import rules
from provisioning.review.suggest import ReviewError

SENTINEL_BASE = 7_919_000  # distinct, unlikely values: a rule whose threshold is one of them reads that key


@dataclass(frozen=True)
class Key:
    """A value of tracklog.yaml and where it is."""

    path: str  # dotted: thresholds.api_error_rate_percent
    line: int  # 0 when the key is not in the file
    value: Any

    def place(self, config: Config) -> str:
        return f"{config.path.name}:{self.line}" if self.line else f"{config.path.name} (not set: add {self.path})"


@dataclass(frozen=True)
class Change:
    key: Key
    new: Any


def _line(node: Any, key: str) -> int:
    return getattr(node, "key_lines", {}).get(key, 0)


def parse_set(text: str) -> tuple[list[str], Any]:
    """``thresholds.api_error_rate_percent=2`` -> (['thresholds', 'api_error_rate_percent'], 2); values are YAML.

    Raises:
        ReviewError: no ``=`` or an empty path.
    """
    path, sep, value = text.partition("=")
    parts = [p for p in path.strip().split(".") if p]
    if not sep or not parts:
        raise ReviewError(f"--set {text!r}: use KEY.PATH=VALUE, e.g. thresholds.api_error_rate_percent=2")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return parts, parsed


def apply(config: Config, sets: Iterable[str]) -> tuple[Config, list[Change]]:
    """``config`` with each ``--set`` applied to a copy of its tracklog.yaml (the file is not touched).

    Raises:
        ReviewError: a path through something that is not a mapping, or a key tracklog.yaml does not have.
    """
    raw = copy.deepcopy(config.raw)  # _LineDict's key_lines survive: deepcopy copies instance attributes
    changes = []
    for text in sets:
        parts, value = parse_set(text)
        node: Any = raw
        for depth, part in enumerate(parts[:-1]):
            if not isinstance(node, dict) or not isinstance(node.get(part), dict):
                raise ReviewError(f"--set {text}: {'.'.join(parts[:depth + 1])} is not a mapping in "
                                  f"{config.path.name}")
            node = node[part]
        last = parts[-1]
        if last not in node:
            known = ", ".join(sorted(str(k) for k in node)) or "none"
            raise ReviewError(f"--set {text}: {config.path.name} has no {'.'.join(parts)} (keys there: {known})")
        changes.append(Change(Key(".".join(parts), _line(node, last), node[last]), value))
        node[last] = value
    return dataclasses.replace(config, raw=raw), changes


def _numbers(node: Mapping[str, Any], prefix: str) -> list[Key]:
    out = []
    for key, value in node.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            out.append(Key(f"{prefix}.{key}", _line(node, key), value))
    return out


def threshold_keys(config: Config, section: str = "thresholds") -> dict[str, Key]:
    """Rule title -> the tracklog.yaml key its threshold comes from, found by rendering once with each number of
    ``section`` replaced by a distinct sentinel (rules whose threshold is a constant get none)."""
    node = config.raw.get(section)
    if not isinstance(node, dict):
        return {}
    keys = _numbers(node, section)
    marked = copy.deepcopy(config.raw)
    sentinels = {float(SENTINEL_BASE + i): key for i, key in enumerate(keys)}
    for value, key in sentinels.items():
        marked[section][key.path.split(".", 1)[1]] = int(value)
    try:
        found = rules.load(dataclasses.replace(config, raw=marked))
    except RenderError:
        return {}
    return {r.title: sentinels[r.threshold] for r in found if r.threshold in sentinels}


def changed_rules(before: Sequence[rules.ReviewRule], after: Sequence[rules.ReviewRule]) -> set[str]:
    """Titles of rules whose query, comparison, threshold, `for` or interval differ."""
    old = {r.title: (r.query, r.op, r.threshold, r.hold, r.interval) for r in before}
    return {r.title for r in after if old.get(r.title) != (r.query, r.op, r.threshold, r.hold, r.interval)}
