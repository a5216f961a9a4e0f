"""What-if: tracklog.yaml values changed for one run (``--set thresholds.X=V``), never written; and which line of
tracklog.yaml holds the threshold of each rule."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from provisioning.config import Config, load
from provisioning.errors import ConfigError, RenderError
from provisioning.review import rules
from provisioning.review.suggest import ReviewError
from provisioning.thresholds import DURATIONS

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
    """``config`` loaded again with each ``--set`` applied (the file is not touched), checked like the file.

    Raises:
        ReviewError: a path through something that is not a mapping, a key tracklog.yaml does not have, or a
            value its section refuses.
    """
    overrides: dict[str, Any] = {}
    for text in sets:
        parts, value = parse_set(text)
        overrides[".".join(parts)] = value
    if not overrides:
        return config, []
    try:
        tried = load(config.path, overrides)
    except ConfigError as exc:
        raise ReviewError(f"--set {', '.join(sets)}: {exc}") from None
    changes = [Change(Key(path, config.line_of(path), _value(config, path)), value)
               for path, value in overrides.items()]
    return tried, changes


def _value(config: Config, path: str) -> Any:
    """The loaded value of a dotted key where the typed config has it under the same name (None elsewhere)."""
    node: Any = config
    for part in path.split("."):
        if not dataclasses.is_dataclass(node) or not hasattr(node, part):
            return None
        node = getattr(node, part)
    return node


def threshold_keys(config: Config) -> dict[str, Key]:
    """Rule title -> the ``thresholds`` key its threshold comes from, found by rendering once with each number of
    the section replaced by a distinct sentinel (rules whose threshold is a constant get none)."""
    numbers = {f.name: getattr(config.thresholds, f.name) for f in dataclasses.fields(config.thresholds)
               if f.name not in DURATIONS}
    sentinels = {float(SENTINEL_BASE + i): name for i, name in enumerate(numbers)}
    marked = dataclasses.replace(config.thresholds, **{name: int(v) for v, name in sentinels.items()})
    try:
        found = rules.load(dataclasses.replace(config, thresholds=marked))
    except RenderError:
        return {}
    keys = {}
    for r in found:
        name = sentinels.get(r.threshold)
        if name is not None:
            path = f"thresholds.{name}"
            keys[r.title] = Key(path, config.line_of(path), numbers[name])
    return keys


def changed_rules(before: Sequence[rules.ReviewRule], after: Sequence[rules.ReviewRule]) -> set[str]:
    """Titles of rules whose query, comparison, threshold, `for` or interval differ."""
    old = {r.title: (r.query, r.op, r.threshold, r.hold, r.interval) for r in before}
    return {r.title for r in after if old.get(r.title) != (r.query, r.op, r.threshold, r.hold, r.interval)}
