"""`review retention` as text and JSON."""

from __future__ import annotations

from typing import Any

from provisioning.review.retention import DAY, GB, RetentionReview


def _size(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def _days(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / DAY:g}d"


def _span(days: float) -> str:
    return f"{days * 24:.0f}h" if days < 2 else f"{days:.1f}d"


def text(r: RetentionReview) -> str:
    ratio = f"{r.compression:.1f}x (Loki's chunk compression ratio)" if r.compression else "unknown: raw bytes"
    out = [f"review retention: the last {r.days} days, Loki at ${r.loki_price}/GB-month, S3 at ${r.s3_price}/GB-month, "
           f"compression {ratio}", "",
           f"{'log type':<12} {'service':<28} {'lines/day':>11} {'raw/day':>10} {'kept':>5} {'steady raw':>11} "
           f"{'stored':>10} {'$/month':>8}  rule"]
    total = 0.0
    for g in r.groups:
        steady = g.steady_bytes
        stored = None if steady is None else r.stored_bytes(steady)
        cost = None if stored is None else stored / GB * r.loki_price
        total += cost or 0.0
        out.append(f"{g.log_type:<12} {g.service[:28]:<28} {g.average_lines:>11,.0f} {_size(g.average_bytes):>10} "
                   f"{_days(g.retention_seconds):>5} {_size(steady) if steady is not None else '-':>11} "
                   f"{_size(stored) if stored is not None else '-':>10} "
                   f"{f'{cost:.2f}' if cost is not None else '-':>8}  {g.rule}")
    out.append(f"Loki at steady state: ${total:.2f}/month")
    young = [g for g in r.groups if 0 < g.days_seen < r.days]
    if young:
        named = [f"{g.log_type} {g.service} {_span(g.days_seen)}" for g in young]
        more = f" and {len(named) - 6} more (--output json: days_seen)" if len(named) > 6 else ""
        out.append(f"began logging within the range, so averaged since (from the start of their first hour): "
                   f"{', '.join(named[:6])}{more}")
    out.append("")
    if r.archive_bytes:
        for log_type, n in sorted(r.archive_bytes.items()):
            out.append(f"archive {log_type:<12} {_size(n):>10}  ${n / GB * r.s3_price:.2f}/month")
    out.append(r.archive_note)
    out.append(r.lookback_note)
    for s in r.suggestions:
        line = (f"suggestion: {s.log_type} is kept {s.retention_days:g}d but {s.queries} queries read back at most "
                f"{s.lookback_days:.1f}d: keep {s.suggested_days}d, saving {s.saved_gb:.2f} GB "
                f"(${s.saved_per_month:.2f}/month)")
        out.append(line + (f"; {s.caveat}" if s.caveat else ""))
    out.extend(f"note: {n}" for n in r.notes)
    out.append(f"{r.queries} queries")
    return "\n".join(out)


def as_json(r: RetentionReview) -> dict[str, Any]:
    return {
        "days": r.days, "compression": r.compression, "loki_price_gb_month": r.loki_price,
        "s3_price_gb_month": r.s3_price,
        "groups": [{"log_type": g.log_type, "service": g.service, "bytes_per_day": list(g.bytes_per_day),
                    "lines_per_day": list(g.lines_per_day), "days_seen": g.days_seen,
                    "retention_seconds": g.retention_seconds, "rule": g.rule,
                    "steady_raw_bytes": g.steady_bytes,
                    "steady_stored_bytes": None if g.steady_bytes is None else r.stored_bytes(g.steady_bytes)}
                   for g in r.groups],
        "archive_bytes": r.archive_bytes, "archive_note": r.archive_note, "lookback_note": r.lookback_note,
        "suggestions": [s.__dict__ for s in r.suggestions], "notes": list(r.notes), "queries": r.queries,
    }
