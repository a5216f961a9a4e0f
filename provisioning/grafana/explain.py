"""What a plan says above a dashboard's diff: which panels differ, by id and title, and which other fields."""

from __future__ import annotations

from provisioning.plan import UPDATE, Change


def dashboard_changes(change: Change) -> list[str]:
    """For a dashboard update: which panels differ, by id and title."""
    if change.resource.kind != "grafana-dashboard" or change.action != UPDATE or not change.live:
        return []
    assert change.desired is not None
    before = {p.get("id"): p for p in change.live.body.get("panels") or []}
    after = {p.get("id"): p for p in change.desired.body.get("panels") or []}
    lines = []
    for pid in sorted(set(before) | set(after), key=lambda x: (x is None, x)):
        old, new = before.get(pid), after.get(pid)
        if old == new:
            continue
        title = (new or old or {}).get("title", "")
        if old is None:
            what = "missing in Grafana (apply adds it back)"
        elif new is None:
            what = "only in Grafana (apply removes it)"
        else:
            keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            what = f"differs in {', '.join(keys)} (apply restores what Git has)"
        lines.append(f"panel {pid} {title!r}: {what}")
    rest = sorted(k for k in set(change.live.body) | set(change.desired.body)
                  if k != "panels" and change.live.body.get(k) != change.desired.body.get(k))
    if rest:
        lines.append(f"dashboard fields changed: {', '.join(rest)}")
    return lines
