"""`review alerts` as text for people and as JSON for tools."""

from __future__ import annotations

from typing import Any

from provisioning.review.alerts import AlertsReview, Backtest, RuleReview
from provisioning.review.backtest import Firing, LabelSet
from provisioning.review.stats import Distribution
from provisioning.review.suggest import Outcome, nice
from provisioning.timerange import NS, format_ns


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{s:02d}s" if s else f"{minutes}m"
    hours, m = divmod(minutes, 60)
    return f"{hours}h{m:02d}m"


def labels_text(labels: LabelSet) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels) + "}"


def number(value: float) -> str:
    return f"{nice(value, 3):g}"


def _when(t: float) -> str:
    return format_ns(int(t * NS), 0)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _times(n: int) -> str:
    return _plural(n, "time")


def _fired(b: Backtest) -> str:
    if not b.count:
        return "0 times"
    flaps = f", {_plural(b.flaps, 'flap')} (refired within {duration(b.flap_window)})"
    return (f"{_times(b.count)}, {duration(b.total_seconds)} in all, "
            f"median {duration(b.median_seconds)}{flaps}")


def _dist(d: Distribution) -> str:
    return (f"p50 {number(d.p50)}  p95 {number(d.p95)}  p99 {number(d.p99)}  max {number(d.max)}  "
            f"({d.count} evaluations)")


def _outcome(o: Outcome, budget: str) -> str:
    caught = len(o.caught)
    marked = caught + len(o.missed)
    text = f"{_plural(o.firings, 'firing')} (budget {budget})"
    if marked:
        text += f", catches {caught}/{marked} marked incidents"
    return text


def rule_text(r: RuleReview, config_name: str, budget: str, max_label_sets: int = 8) -> list[str]:
    rule = r.rule
    hold = f", for {duration(rule.hold)}" if rule.hold else ""
    head = f"{rule.title}  ({rule.datasource}, every {duration(rule.interval)}{hold})"
    if r.error:
        return [head, f"  not reviewed       {r.error}"]
    lines = [head + ("  [changed by --set]" if r.changed else ""),
             f"  rule               {rule.op} {number(rule.threshold)} on: {_short(rule.query)}"]
    if r.before is not None:
        lines.append(f"  as tracklog.yaml   would have fired {_fired(r.before)}")
    lines.append(f"  would have fired   {_fired(r.backtest)}")
    if r.actual.firings is None:
        lines.append(f"  actually fired     {r.actual.note}")
    else:
        fired, total = _times(len(r.actual.firings)), duration(sum(f.seconds for f in r.actual.firings))
        lines.append(f"  actually fired     {fired}, {total} in all ({r.actual.note})")
    for labels, n in sorted(r.backtest.label_sets.items(), key=lambda kv: -kv[1])[:max_label_sets]:
        lines.append(f"    {labels_text(labels)}  x{n}")
    if r.overall is not None:
        lines.append(f"  signal             {_dist(r.overall)}   threshold {rule.op} {number(rule.threshold)}")
        if len(r.by_labels) > 1:
            ranked = sorted(r.by_labels.items(), key=lambda kv: -kv[1].max)[:max_label_sets]
            lines.extend(f"    {labels_text(labels)}  {_dist(d)}" for labels, d in ranked)
            if len(r.by_labels) > max_label_sets:
                lines.append(f"    ... {len(r.by_labels) - max_label_sets} more label sets (--output json)")
    s = r.suggestion
    if s is None:
        lines.append(f"  suggestion         none: {r.note}")
    elif s.keep:
        lines.append(f"  suggestion         keep {rule.op} {number(rule.threshold)}: {_outcome(s.current, budget)}")
    else:
        lines.append(f"  suggestion         {rule.op} {number(s.suggested.threshold)}: "
                     f"{_outcome(s.suggested, budget)}; now {_outcome(s.current, budget)}")
        if s.suggested.missed:
            lines.append(f"                     misses {', '.join(s.suggested.missed)}")
            if s.catch_all is not None:
                lines.append(f"                     catching every marked incident needs {rule.op} "
                             f"{number(s.catch_all.threshold)}: {_plural(s.catch_all.firings, 'firing')}")
            else:
                lines.append("                     no threshold on this signal catches every marked incident")
        if r.key is not None:
            where = f"{config_name}:{r.key.line}" if r.key.line else config_name
            lines.append(f"                     change {where} {r.key.path}: {r.key.value} -> "
                         f"{number(s.suggested.threshold)}")
    return lines


def _short(query: str, width: int = 110) -> str:
    flat = " ".join(query.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def text(review: AlertsReview, config_name: str = "tracklog.yaml") -> str:
    out = [f"review alerts: {_when(review.start)} .. {_when(review.end)} ({duration(review.end - review.start)}), "
           f"budget {review.budget}, {len(review.incidents)} marked incident(s)"]
    for change in review.changes:
        where = f"{config_name}:{change.key.line}" if change.key.line else config_name
        out.append(f"what-if: {change.key.path} = {change.new} (now {change.key.value}; to keep it, change {where}); "
                   "nothing written")
    out.extend(f"note: {note}" for note in review.notes)
    for r in review.rules:
        out.append("")
        out.extend(rule_text(r, config_name, review.budget))
    out.append("")
    out.append(f"{len(review.rules)} rules, {review.queries} queries, {review.seconds:.1f}s")
    return "\n".join(out)


def _firing_json(f: Firing) -> dict[str, Any]:
    return {"labels": dict(f.labels), "start": _when(f.start), "end": _when(f.end), "seconds": f.seconds,
            "active_at": _when(f.active_at), "ongoing": f.ongoing, "flap": f.flap}


def _backtest_json(b: Backtest) -> dict[str, Any]:
    return {"count": b.count, "total_seconds": b.total_seconds, "median_seconds": b.median_seconds,
            "flaps": b.flaps, "flap_window_seconds": b.flap_window, "firings": [_firing_json(f) for f in b.firings]}


def _dist_json(d: Distribution | None) -> dict[str, Any] | None:
    return None if d is None else {"count": d.count, "p50": d.p50, "p95": d.p95, "p99": d.p99, "max": d.max}


def _outcome_json(o: Outcome | None) -> dict[str, Any] | None:
    return None if o is None else {"threshold": o.threshold, "firings": o.firings, "caught": list(o.caught),
                                   "missed": list(o.missed)}


def rule_json(r: RuleReview, config_name: str) -> dict[str, Any]:
    rule = r.rule
    s = r.suggestion
    return {
        "rule": rule.title, "alertname": rule.name, "group": rule.group, "datasource": rule.datasource,
        "query": rule.query, "op": rule.op, "threshold": rule.threshold, "for_seconds": rule.hold,
        "interval_seconds": rule.interval, "labels": dict(rule.labels), "changed_by_set": r.changed,
        "backtest": _backtest_json(r.backtest),
        "as_configured": _backtest_json(r.before) if r.before is not None else None,
        "actual": {"firings": None if r.actual.firings is None else [_firing_json(f) for f in r.actual.firings],
                   "count": None if r.actual.firings is None else len(r.actual.firings), "source": r.actual.note},
        "signal": _dist_json(r.overall),
        "signal_by_labels": [{"labels": dict(labels), **(_dist_json(d) or {})} for labels, d in r.by_labels.items()],
        "suggestion": None if s is None else {
            "keep": s.keep, "budget": s.budget, "allowed_firings": s.allowed, "current": _outcome_json(s.current),
            "suggested": _outcome_json(s.suggested), "catch_all": _outcome_json(s.catch_all)},
        "note": r.note, "error": r.error or None,
        "config_key": None if r.key is None else {"path": r.key.path, "file": config_name, "line": r.key.line,
                                                  "value": r.key.value},
    }


def as_json(review: AlertsReview, config_name: str = "tracklog.yaml") -> dict[str, Any]:
    return {
        "start": _when(review.start), "end": _when(review.end), "budget": review.budget,
        "incidents": [i.text for i in review.incidents],
        "what_if": [{"path": c.key.path, "value": c.new, "was": c.key.value, "file": config_name,
                     "line": c.key.line} for c in review.changes],
        "rules": [rule_json(r, config_name) for r in review.rules],
        "queries": review.queries, "seconds": review.seconds, "notes": list(review.notes),
    }
