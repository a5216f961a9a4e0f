"""`review schema` as text for people and as JSON for tools (CI)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from provisioning.review.schema import SchemaReview
from provisioning.timerange import NS, format_ns

KINDS = {
    "missing_fields": "records missing required fields",
    "unknown_log_type": "unknown log types",
    "misfiled_event": "events under another log type than their own",
    "unbounded_field": "fields whose values look unbounded",
    "unbounded_label": "labels that look unbounded",
    "new_field": "fields seen for the first time",
    "stopped": "log types no longer emitted",
}


def _when(t: float) -> str:
    return format_ns(int(t * NS), 0)


def text(r: SchemaReview) -> str:
    out = [f"review schema: {_when(r.start)} .. {_when(r.end)}, look-back from {_when(r.lookback_start)}; "
           f"{r.streams} service/log type pairs, up to {r.sample_size} newest records of each read"]
    new = [f"{service} {log_type or '(no log_type)'}" for service, log_type in r.new_streams]
    if new:
        shown = ", ".join(new[:8]) + (f" and {len(new) - 8} more" if len(new) > 8 else "")
        out.append(f"note: new since the look-back window (their fields are not compared): {shown}")
    for kind, title in KINDS.items():
        found = [f for f in r.findings if f.kind == kind]
        if not found:
            continue
        out += ["", f"{title} ({len(found)})"]
        for f in found:
            where = f"{f.service or '(no service)'} {f.log_type}".rstrip()
            examples = f"  e.g. {', '.join(repr(e) for e in f.examples)}" if f.examples else ""
            out.append(f"  {where:<40} {f.detail}{examples}")
    out += ["", f"{len(r.findings)} finding(s); {r.queries} queries, {r.seconds:.1f}s"
            + ("" if r.findings else ": the logging standards are met")]
    return "\n".join(out)


def as_json(r: SchemaReview) -> dict[str, Any]:
    return {"start": _when(r.start), "end": _when(r.end), "lookback_start": _when(r.lookback_start),
            "streams": r.streams, "sample_size": r.sample_size,
            "new_streams": [{"service": s, "log_type": t} for s, t in r.new_streams],
            "findings": [{**asdict(f), "examples": list(f.examples)} for f in r.findings],
            "queries": r.queries, "seconds": r.seconds}
