"""A compliance report (GDPR / PCI DSS review) of security and audit records: one self-contained HTML page and CSVs.

The page has no external assets and no scripts: inline SVG bar charts and tables. Every value that comes from a
record is HTML-escaped (the records carry what users typed); CSV cells that a spreadsheet would run as a formula
are prefixed with ``'``.
"""

from __future__ import annotations

import csv
import html
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from provisioning.audit.detect import (
    AUTHZ_DENIED,
    LOGIN,
    PERMISSION_CHANGE,
    Finding,
    Policy,
    granted_admin_roles,
    is_admin_endpoint,
    record_ns,
)
from provisioning.timerange import NS, TimeRange, format_ns

HTML_ROW_LIMIT = 2000  # per table; the CSVs have every row
LOGIN_COLUMNS = ("time", "user", "outcome", "reason", "address", "country", "service", "env")
PERMISSION_COLUMNS = ("time", "actor", "target", "role", "before", "after", "admin_granted", "service", "env")
ADMIN_COLUMNS = ("time", "who", "action", "detail", "address", "service", "env")
FAILURE_COLUMNS = ("time", "user", "what", "detail", "address", "country", "service", "env")
FINDING_COLUMNS = ("kind", "severity", "first", "last", "who", "where", "count", "detail")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def text(value: Any) -> str:
    """A value as one cell's text: strings as they are, everything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


def esc(value: Any) -> str:
    """HTML-escaped text of a value (quotes too: safe in attributes)."""
    return html.escape(text(value), quote=True)


def csv_cell(value: Any) -> str:
    cell = text(value)
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def _when(record: Mapping[str, Any]) -> str:
    return format_ns(record_ns(record))


def login_rows(records: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    return [{"time": _when(r), "user": text(r.get("user.id")), "outcome": text(r.get("auth.outcome")),
             "reason": text(r.get("auth.reason")), "address": text(r.get("client.address")),
             "country": text(r.get("client.geo.country_iso_code")), "service": text(r.get("service")),
             "env": text(r.get("env"))}
            for r in records if r.get("event.name") == LOGIN]


def permission_rows(records: Iterable[Mapping[str, Any]], policy: Policy) -> list[dict[str, str]]:
    return [{"time": _when(r), "actor": text(r.get("audit.actor")), "target": text(r.get("audit.target")),
             "role": text(r.get("auth.role")), "before": text(r.get("audit.before")),
             "after": text(r.get("audit.after")), "admin_granted": ", ".join(sorted(granted_admin_roles(r, policy))),
             "service": text(r.get("service")), "env": text(r.get("env"))}
            for r in records if r.get("event.name") == PERMISSION_CHANGE]


def failure_rows(records: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    rows = []
    for r in records:
        if r.get("event.name") == LOGIN and r.get("auth.outcome") == "failure":
            what, detail = "login failed", text(r.get("auth.reason"))
        elif r.get("event.name") == AUTHZ_DENIED:
            what, detail = "access denied", f"{text(r.get('url.path'))} needs {text(r.get('auth.role'))}"
        else:
            continue
        rows.append({"time": _when(r), "user": text(r.get("user.id")), "what": what, "detail": detail,
                     "address": text(r.get("client.address")), "country": text(r.get("client.geo.country_iso_code")),
                     "service": text(r.get("service")), "env": text(r.get("env"))})
    return rows


def admin_action_rows(records: Sequence[Mapping[str, Any]], policy: Policy) -> list[dict[str, str]]:
    """Actions of administrators: every permission change, audit records of admin endpoints or roles, and audit
    records of anyone who changed permissions or was granted an admin role in the period."""
    admins = {text(r.get("audit.actor")) for r in records if r.get("event.name") == PERMISSION_CHANGE}
    admins |= {text(r.get("audit.target")) for r in records
               if r.get("event.name") == PERMISSION_CHANGE and granted_admin_roles(r, policy)}
    admins.discard("")
    rows = []
    for r in records:
        name = text(r.get("event.name"))
        if name == PERMISSION_CHANGE:
            who = text(r.get("audit.actor"))
            detail = (f"{text(r.get('audit.target'))}: {text(r.get('auth.role'))} "
                      f"{text(r.get('audit.before'))} -> {text(r.get('audit.after'))}")
        elif r.get("log_type") == "audit" and (text(r.get("user.id")) in admins or is_admin_endpoint(r, policy)):
            who = text(r.get("user.id") or r.get("audit.actor"))
            detail = text(r.get("ui.action") or r.get("url.path") or r.get("message"))
        else:
            continue
        rows.append({"time": _when(r), "who": who, "action": name, "detail": detail,
                     "address": text(r.get("client.address")), "service": text(r.get("service")),
                     "env": text(r.get("env"))})
    return rows


def finding_rows(findings: Iterable[Finding]) -> list[dict[str, str]]:
    return [{"kind": f.kind, "severity": f.severity, "first": format_ns(f.first_ns), "last": format_ns(f.last_ns),
             "who": f.who, "where": f.where, "count": str(f.count), "detail": f.detail} for f in findings]


def days_of(span: TimeRange) -> list[str]:
    first = datetime.fromtimestamp(span.start_ns // NS, UTC).date()
    last = datetime.fromtimestamp(max(span.start_ns, span.end_ns - 1) // NS, UTC).date()
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def per_day(records: Iterable[Mapping[str, Any]], days: Sequence[str], keep: Any) -> list[int]:
    counts = Counter(format_ns(record_ns(r), 0)[:10] for r in records if keep(r))
    return [counts.get(day, 0) for day in days]


def bar_chart(title: str, days: Sequence[str], series: Sequence[tuple[str, str, Sequence[int]]]) -> str:
    """An inline SVG chart of grouped bars: one group per day, one bar per series (name, colour, values)."""
    width, height, left, bottom, top = 900, 260, 40, 40, 30
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max([1, *[v for _, _, values in series for v in values]])
    group = plot_w / max(1, len(days))
    bar = max(1.0, group * 0.8 / max(1, len(series)))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}"><title>{esc(title)}</title>',
             f'<text x="{left}" y="18" font-size="14" font-weight="bold">{esc(title)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#888"/>',
             f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">{peak}</text>',
             f'<text x="{left - 4}" y="{top + plot_h}" font-size="10" text-anchor="end">0</text>']
    for i, day in enumerate(days):
        x0 = left + i * group + group * 0.1
        for j, (name, colour, values) in enumerate(series):
            value = values[i]
            h = plot_h * value / peak
            parts.append(f'<rect x="{x0 + j * bar:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}" fill="{esc(colour)}"><title>{esc(day)} {esc(name)}: {value}</title></rect>')
        if len(days) <= 31 or i % max(1, len(days) // 15) == 0:
            parts.append(f'<text x="{x0 + group * 0.4:.1f}" y="{top + plot_h + 14}" font-size="9" '
                         f'text-anchor="middle">{esc(day[5:])}</text>')
    for j, (name, colour, values) in enumerate(series):
        x = left + 200 + j * 170
        parts.append(f'<rect x="{x}" y="8" width="10" height="10" fill="{esc(colour)}"/>'
                     f'<text x="{x + 14}" y="17" font-size="11">{esc(name)} ({sum(values)})</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def table(title: str, columns: Sequence[str], rows: Sequence[Mapping[str, str]], note: str = "") -> str:
    shown = rows[:HTML_ROW_LIMIT]
    out = [f"<h2>{esc(title)} <small>({len(rows)})</small></h2>"]
    if note:
        out.append(f"<p>{esc(note)}</p>")
    if len(rows) > len(shown):
        out.append(f"<p>The first {len(shown)} of {len(rows)} rows; the CSV has them all.</p>")
    if not rows:
        out.append("<p><em>None in this period.</em></p>")
        return "\n".join(out)
    out.append("<table><thead><tr>" + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr></thead><tbody>")
    out.extend("<tr>" + "".join(f"<td>{esc(row.get(c, ''))}</td>" for c in columns) + "</tr>" for row in shown)
    out.append("</tbody></table>")
    return "\n".join(out)


STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-bottom:1em;
font-size:12px}th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}th{background:#eee}
td{max-width:40em;overflow-wrap:anywhere}h2 small{color:#666;font-weight:normal}.meta td{border:none}"""


def render_html(records: Sequence[Mapping[str, Any]], findings: Sequence[Finding], policy: Policy,
                span: TimeRange, env: str | None, generated_ns: int, project: str = "") -> str:
    days = days_of(span)
    is_login = lambda outcome: lambda r: r.get("event.name") == LOGIN and r.get("auth.outcome") == outcome  # noqa: E731
    logins_chart = bar_chart("Logins per day by outcome", days, [
        ("success", "#2e7d32", per_day(records, days, is_login("success"))),
        ("failure", "#c62828", per_day(records, days, is_login("failure"))),
    ])
    failures_chart = bar_chart("Failures per day", days, [
        ("failed logins", "#c62828", per_day(records, days, is_login("failure"))),
        ("access denied", "#ef6c00", per_day(records, days, lambda r: r.get("event.name") == AUTHZ_DENIED)),
    ])
    meta = [("project", project), ("period", f"{format_ns(span.start_ns, 0)} .. {format_ns(span.end_ns, 0)}"),
            ("environment", env or "all"), ("generated", format_ns(generated_ns, 0)),
            ("records read", str(len(records))), ("findings", str(len(findings))),
            ("allowed countries", ", ".join(sorted(policy.allowed_countries)) or "any"),
            ("allowed networks", ", ".join(str(n) for n in policy.allowed_networks) or "any"),
            ("admin roles", ", ".join(sorted(policy.admin_roles)) or "none")]
    body = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Security and audit report {esc(env or '')}</title><style>{STYLE}</style></head><body>",
        "<h1>Security and audit report</h1>",
        "<p>Who did what, when and from where: logins, failures, permission changes and administrator actions "
        "from the security and audit logs, for a GDPR / PCI DSS review.</p>",
        '<table class="meta">' + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in meta)
        + "</table>",
        logins_chart, failures_chart,
        table("Findings", FINDING_COLUMNS, finding_rows(findings), "from `tracklog audit detect`"),
        table("Permission changes", PERMISSION_COLUMNS, permission_rows(records, policy)),
        table("Administrator actions", ADMIN_COLUMNS, admin_action_rows(records, policy)),
        table("Failures", FAILURE_COLUMNS, failure_rows(records), "failed logins and refused requests"),
        table("Logins", LOGIN_COLUMNS, login_rows(records)),
        "</body></html>",
    ]
    return "\n".join(body) + "\n"


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([csv_cell(row.get(c, "")) for c in columns])
    return path


def write(out_dir: Path, records: Sequence[Mapping[str, Any]], findings: Sequence[Finding], policy: Policy,
          span: TimeRange, env: str | None, generated_ns: int, project: str = "") -> list[Path]:
    """Write report.html, logins.csv, permission_changes.csv and findings.csv into ``out_dir``; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    page = out_dir / "report.html"
    page.write_text(render_html(records, findings, policy, span, env, generated_ns, project), encoding="utf-8")
    return [
        page,
        write_csv(out_dir / "logins.csv", LOGIN_COLUMNS, login_rows(records)),
        write_csv(out_dir / "permission_changes.csv", PERMISSION_COLUMNS, permission_rows(records, policy)),
        write_csv(out_dir / "findings.csv", FINDING_COLUMNS, finding_rows(findings)),
    ]
