"""A plan is a value: the managed resources as they are and as Git wants them, and the changes between, in order."""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml

from provisioning.errors import TracklogError

CREATE, UPDATE, DELETE = "create", "update", "delete"


@dataclass(frozen=True)
class Resource:
    """One managed object: its kind, a stable uid, a human title, and its body normalised for comparison."""

    kind: str
    uid: str
    title: str
    body: Any
    origin: str = ""  # "file": the server provisions it from its own files; tracklog never writes it

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.uid)


@dataclass(frozen=True)
class Change:
    action: str
    desired: Resource | None
    live: Resource | None

    @property
    def resource(self) -> Resource:
        found = self.desired or self.live
        assert found is not None
        return found


class Target(Protocol):
    """Where resources live (a Grafana, the stack's rule files, ...): read what is there, apply one change."""

    name: str

    def desired(self) -> list[Resource]: ...

    def live(self) -> list[Resource]: ...

    def apply(self, change: Change) -> None: ...


class UnsafePlan(TracklogError):
    """The plan deletes more of the managed objects than allowed without --force."""

    def __init__(self, deletes: int, managed: int, threshold: float) -> None:
        self.counts = {"deletes": deletes, "managed": managed}
        super().__init__(
            f"the plan deletes {deletes} of {managed} managed objects ({deletes / max(managed, 1):.0%}), "
            f"more than the {threshold:.0%} allowed; review it with `tracklog plan` and re-run with --force"
        )


@dataclass
class Plan:
    changes: list[Change]
    managed: int
    warnings: list[str] = field(default_factory=list)
    mask: Callable[[str], str] = lambda text: text
    display: Callable[[Any], Any] = lambda body: body  # hides secret fields of both sides before diffing
    explain: Callable[[Change], list[str]] = lambda change: []  # a summary above a change's diff
    from_files: list[tuple[Resource, bool]] = field(default_factory=list)  # (live object, matches Git) left alone

    def counts(self) -> dict[str, int]:
        return {action: sum(c.action == action for c in self.changes) for action in (CREATE, UPDATE, DELETE)}

    def text(self) -> str:
        """A readable plan with a unified diff per change; secrets appear by variable name only."""
        lines = []
        for change in self.changes:
            r = change.resource
            sign = {CREATE: "+", UPDATE: "~", DELETE: "-"}[change.action]
            lines.append(f"{sign} {change.action} {r.kind} {r.uid} ({r.title})")
            lines.extend(f"    {line}" for line in self.explain(change))
            before = _dump(self.display(change.live.body)) if change.live else ""
            after = _dump(self.display(change.desired.body)) if change.desired else ""
            diff = difflib.unified_diff(before.splitlines(), after.splitlines(), f"live/{r.kind}/{r.uid}",
                                        f"git/{r.kind}/{r.uid}", n=2, lineterm="")
            lines.extend("    " + line for line in list(diff)[2:])
        counts = self.counts()
        summary = (f"plan: {counts[CREATE]} to create, {counts[UPDATE]} to update, {counts[DELETE]} to delete"
                   if self.changes else "plan: no changes")
        for live, matches in self.from_files:
            state = "matches what tracklog renders" if matches else "differs from what tracklog renders"
            lines.append(f"= {live.kind} {live.uid} ({live.title}): provisioned from files in the server, {state}; "
                         "apply leaves it alone (change the provisioning file to change it)")
        lines.extend(f"warning: {w}" for w in self.warnings)
        lines.append(summary)
        return self.mask("\n".join(lines))

    def as_json(self) -> dict[str, Any]:
        return {
            "changes": [{"action": c.action, "kind": c.resource.kind, "uid": c.resource.uid,
                         "title": c.resource.title} for c in self.changes],
            "counts": self.counts(), "warnings": self.warnings, "checksum": self.checksum(),
            "from_files": [{"kind": r.kind, "uid": r.uid, "title": r.title, "matches": matches}
                           for r, matches in self.from_files],
        }

    def checksum(self) -> str:
        """sha256 of the changes and their bodies: `apply --plan-checksum` refuses if the live plan differs."""
        payload = [(c.action, c.resource.kind, c.resource.uid, c.desired.body if c.desired else None)
                   for c in self.changes]
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def raise_if_unsafe(self, max_delete_share: float, force: bool) -> None:
        deletes = self.counts()[DELETE]
        if not force and deletes and self.managed and deletes / self.managed > max_delete_share:
            raise UnsafePlan(deletes, self.managed, max_delete_share)


def make_plan(desired: Iterable[Resource], live: Iterable[Resource], kind_order: Iterable[str],
              delete_first: Iterable[str] = ()) -> Plan:
    """Diff desired against live; creates and updates in kind order, deletes after them in reverse order.

    Deletes of the kinds in ``delete_first`` come instead right before the creates and updates of their kind: an
    object that moves to a new key (a rule group to another folder) is gone from the old one before it is written
    to the new one, as parts of it are unique across keys (a rule's uid in the whole Grafana org).
    """
    order = {kind: i for i, kind in enumerate(kind_order)}
    first = set(delete_first)
    want = {r.key: r for r in desired}
    have = {r.key: r for r in live}
    from_files = [(r, key in want and _canonical(r.body) == _canonical(want[key].body))
                  for key, r in have.items() if r.origin == "file"]
    have = {key: r for key, r in have.items() if r.origin != "file"}
    want = {key: r for key, r in want.items() if key not in {f.key for f, _ in from_files}}
    upserts = []
    for key, resource in want.items():
        if key not in have:
            upserts.append(Change(CREATE, resource, None))
        elif _canonical(have[key].body) != _canonical(resource.body):
            upserts.append(Change(UPDATE, resource, have[key]))
    deletes = [Change(DELETE, None, r) for key, r in have.items() if key not in want]
    early = [c for c in deletes if c.resource.kind in first]
    late = [c for c in deletes if c.resource.kind not in first]
    writes = sorted(upserts + early, key=lambda c: (order.get(c.resource.kind, 99), c.action != DELETE,
                                                    c.resource.uid))
    late.sort(key=lambda c: (-order.get(c.resource.kind, 99), c.resource.uid))
    return Plan(writes + late, managed=len(have), from_files=from_files)


def _canonical(body: Any) -> str:
    return json.dumps(body, sort_keys=True, default=str)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (notification templates, runbooks) as literal blocks, so a diff shows changed lines."""


_Dumper.add_representer(str, lambda dumper, value: dumper.represent_scalar(
    "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None))


def _dump(body: Any) -> str:
    if isinstance(body, str):
        return body
    return yaml.dump(body, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True, width=120)
