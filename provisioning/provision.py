"""render -> validate -> plan -> apply, the one pipeline behind `tracklog plan`, `apply` and `make provision`."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass

from provisioning.config import Config
from provisioning.errors import TracklogError
from provisioning.plan import Plan, Target, make_plan
from provisioning.render import Rendered, render
from provisioning.stacktarget import KIND_ORDER as STACK_KINDS
from provisioning.stacktarget import StackTarget
from provisioning.validate import validate

log = logging.getLogger("tracklog.provision")


class ValidationFailed(TracklogError, ValueError):
    """Validation found problems; nothing was written. ``problems`` lists each with its place."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s), nothing was applied:\n" + "\n".join(problems))


@dataclass
class Planned:
    rendered: Rendered
    targets: list[Target]
    plans: list[Plan]

    def text(self) -> str:
        return "\n".join(f"## {t.name}\n{p.text()}" for t, p in zip(self.targets, self.plans, strict=True))

    def has_changes(self) -> bool:
        return any(p.changes for p in self.plans)

    def checksum(self) -> str:
        return hashlib.sha256("".join(p.checksum() for p in self.plans).encode()).hexdigest()


def targets_for(config: Config, rendered: Rendered) -> list[Target]:
    chosen: list[Target] = [StackTarget(config, rendered)]
    if _grafana_enabled(config):
        from provisioning.grafana import GrafanaTarget

        chosen.append(GrafanaTarget(config, rendered))
    return chosen


def _grafana_enabled(config: Config) -> bool:
    """Grafana is a target when tracklog.yaml says so (grafana.enabled) or TRACKLOG_GRAFANA_URL is set."""
    return bool(os.environ.get("TRACKLOG_GRAFANA_URL") or config.grafana.enabled)


def plan(config: Config, out_dir: str | None = None, engine: str = "auto") -> Planned:
    """Render, validate everything (raising before any write), then diff each target against its live state."""
    rendered = render(config, out_dir=out_dir, engine=engine)
    problems = [str(p) for p in validate(config, rendered)]
    targets = targets_for(config, rendered)
    for target in targets:
        problems.extend(getattr(target, "check", list)())
    if problems:
        raise ValidationFailed(problems)
    plans = []
    for target in targets:
        one = make_plan(target.desired(), target.live(), getattr(target, "KIND_ORDER", STACK_KINDS),
                        getattr(target, "DELETE_FIRST", ()))
        one.warnings = list(getattr(target, "warnings", []))
        secrets = getattr(getattr(target, "am", None), "secrets", None)
        if secrets is not None:
            one.mask = secrets.mask
        one.display = getattr(target, "display", one.display)
        one.explain = getattr(target, "explain", one.explain)
        if hasattr(target, "notes"):
            target.notes(one.changes)
        one.warnings = list(getattr(target, "warnings", []))
        plans.append(one)
    return Planned(rendered, targets, plans)


def apply(planned: Planned, force: bool = False, max_delete_share: float = 0.3,
          checksum: str | None = None) -> int:
    """Apply every change of a validated plan; returns how many were made."""
    for p in planned.plans:
        p.raise_if_unsafe(max_delete_share, force)
    if checksum is not None and checksum != planned.checksum():
        raise TracklogError("the live plan differs from the reviewed one (--plan-checksum); run `tracklog plan`")
    made = 0
    for target, p in zip(planned.targets, planned.plans, strict=True):
        for change in p.changes:
            r = change.resource
            log.info("%s: %s %s %s", target.name, change.action, r.kind, r.uid)
            target.apply(change)
            made += 1
    return made

