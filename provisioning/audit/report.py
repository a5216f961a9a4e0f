"""A compliance report (GDPR / PCI DSS review) of security and audit records: one self-contained HTML page and CSVs.

The page reads like a review: it leads with the findings by kind and severity (how many, which accounts and
addresses, when), then the activity (charts per hour for periods up to 3 days, else per day; logins and
failures folded by outcome and reason), then the details in collapsible sections, where repeated rows are
folded into one row with a count. It has no external assets and no scripts (its Content-Security-Policy
forbids both); every value that comes from a record is HTML-escaped (the records carry what users typed).
CSV cells that a spreadsheet would run as a formula are prefixed with ``'``; the CSVs have every row.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from provisioning.audit import charts, summary
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
from provisioning.audit.markup import CSP, STYLE, anchor, badge, esc, section, table, text
from provisioning.timerange import NS, TimeRange, format_ns

__all__ = ["csv_cell", "esc", "render_html", "text", "write"]

HTML_ROW_LIMIT = 2000  # per table; the CSVs have every row
MAX_MARKS = 20  # findings shaded on the logins chart at most (more would shade all of it)
OPEN_UP_TO = 50  # a details section with at most this many rows starts open (critical and high findings)
LOGIN_COLUMNS = ("time", "user", "outcome", "reason", "address", "country", "service", "env")
PERMISSION_COLUMNS = ("time", "actor", "target", "role", "before", "after", "admin_granted", "service", "env")
ADMIN_COLUMNS = ("time", "who", "action", "detail", "address", "service", "env")
FAILURE_COLUMNS = ("time", "user", "what", "detail", "address", "country", "service", "env")
FINDING_COLUMNS = ("kind", "severity", "first", "last", "who", "where", "count", "detail")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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


def _span_text(span: TimeRange) -> str:
    hours = (span.end_ns - span.start_ns) / NS / 3600
    length = f"{hours:.0f} h" if hours <= 72 else f"{hours / 24:.0f} days"
    return f"{format_ns(span.start_ns, 0)} .. {format_ns(span.end_ns, 0)} ({length})"


def _verdict(findings: Sequence[Finding]) -> str:
    if not findings:
        return '<p class="verdict quiet">No findings in this period.</p>'
    counts = summary.severity_counts(findings)
    badges = " ".join(badge(severity, f"{n} {severity}") for severity, n in counts.items() if n)
    calm = "" if counts.get("critical") or counts.get("high") else \
        ' <span class="quiet">No critical or high findings.</span>'
    return f'<p class="verdict">{len(findings)} findings: {badges}{calm}</p>'


def findings_summary(kinds: Sequence[summary.KindSummary]) -> str:
    """The table the report leads with: one row per kind and severity."""
    if not kinds:
        return ""
    rows = [{"severity": badge(k.severity),
             "kind": f'<a href="#{anchor("finding", k.kind, k.severity)}">{esc(k.kind)}</a>',
             "findings": str(len(k.findings)), "events": str(k.events), "top accounts": summary.top(k.accounts),
             "top addresses / places": summary.top(k.places), "first": format_ns(k.first_ns, 0),
             "last": format_ns(k.last_ns, 0)} for k in kinds]
    return table(("severity", "kind", "findings", "events", "top accounts", "top addresses / places", "first",
                  "last"), rows, "findings-summary", raw=("severity", "kind"))


def _limited(columns: Sequence[str], rows: Sequence[Mapping[str, str]], what: str, csv_name: str = "") -> str:
    if not rows:
        return "<p><em>None in this period.</em></p>"
    note = ""
    if len(rows) > HTML_ROW_LIMIT:
        rest = f"; {csv_name} has every one" if csv_name else ""
        note = f'<p class="note">The first {HTML_ROW_LIMIT} of {len(rows)} {what}{rest}.</p>'
    return note + table(columns, rows, limit=HTML_ROW_LIMIT)


def _folded(rows: Sequence[Mapping[str, str]], keys: Sequence[str], distinct: Mapping[str, str],
            limit: int = 0) -> tuple[str, int]:
    """A table of ``rows`` folded on ``keys`` (count, first, last and distinct counts); and how many rows it has."""
    folded = summary.grouped(rows, keys, distinct)
    shown = folded[:limit] if limit else folded
    columns = (*keys, "count", *distinct.values(), "first", "last")
    more = f'<p class="note">+{len(folded) - len(shown)} more rows below.</p>' if len(folded) > len(shown) else ""
    return (table(columns, shown) + more if folded else "<p><em>None in this period.</em></p>"), len(folded)


def _in_rows(records: int, rows: int) -> str:
    """'5812 in 3927 rows' when repeated rows were folded, else just the number."""
    return f"{records} in {rows} rows" if records != rows else str(records)


def _finding_details(kinds: Sequence[summary.KindSummary]) -> str:
    columns = ("first", "last", "who", "where", "count", "detail")
    out = []
    for k in kinds:
        rows = [{"first": format_ns(f.first_ns, 0), "last": format_ns(f.last_ns, 0), "who": f.who, "where": f.where,
                 "count": str(f.count), "detail": f.detail} for f in k.findings]
        opened = k.severity in ("critical", "high") and len(rows) <= OPEN_UP_TO
        out.append(section(f"{k.kind} ({k.severity})", _limited(columns, rows, "findings", "findings.csv"),
                           count=f"{len(rows)} finding{'s' if len(rows) != 1 else ''}", opened=opened,
                           section_id=anchor("finding", k.kind, k.severity)))
    return "\n".join(out)


def _marks(findings: Sequence[Finding]) -> tuple[list[Finding], str]:
    """The findings to shade on the logins chart: critical and high ones, only critical ones when those are too
    many to tell apart, none when even those are."""
    for severities, label in ((("critical", "high"), "high or critical finding"), (("critical",), "critical finding")):
        chosen = [f for f in findings if f.severity in severities]
        if len(chosen) <= MAX_MARKS:
            return chosen, label
    return [], ""


def render_html(records: Sequence[Mapping[str, Any]], findings: Sequence[Finding], policy: Policy,
                span: TimeRange, env: str | None, generated_ns: int, project: str = "") -> str:
    buckets = charts.buckets_for(span)
    unit = buckets.unit
    kinds = summary.by_kind(findings)
    logins, failures = login_rows(records), failure_rows(records)
    changes, actions = permission_rows(records, policy), admin_action_rows(records, policy)

    def is_login(outcome: str):
        return lambda r: r.get("event.name") == LOGIN and r.get("auth.outcome") == outcome

    marks, marks_label = _marks(findings)
    logins_chart = charts.bar_chart(f"Logins per {unit} by outcome", buckets, [
        ("success", "#2e7d32", charts.counts(records, buckets, is_login("success"))),
        ("failure", "#c62828", charts.counts(records, buckets, is_login("failure"))),
    ], marks=marks, marks_label=marks_label)
    failures_chart = charts.bar_chart(f"Failures per {unit}", buckets, [
        ("failed logins", "#c62828", charts.counts(records, buckets, is_login("failure"))),
        ("access denied", "#ef6c00", charts.counts(records, buckets, lambda r: r.get("event.name") == AUTHZ_DENIED)),
    ])
    lead = " · ".join(esc(part) for part in (
        f"project {project}" if project else "", f"environment {env or 'all'}", _span_text(span),
        f"{len(records)} records", f"generated {format_ns(generated_ns, 0)}") if part)
    policy_rows = [{"setting": k, "value": v} for k, v in (
        ("allowed countries", ", ".join(sorted(policy.allowed_countries)) or "any"),
        ("allowed networks", ", ".join(str(n) for n in policy.allowed_networks) or "any"),
        ("admin roles", ", ".join(sorted(policy.admin_roles)) or "none"))]
    login_totals, _ = _folded(logins, ("outcome", "reason"),
                              {"user": "accounts", "address": "addresses", "country": "countries"})
    failure_totals, _ = _folded(failures, ("what", "detail"), {"user": "accounts", "address": "addresses"}, 15)
    admin_table, admin_groups = _folded(actions, ADMIN_COLUMNS[1:], {}, HTML_ROW_LIMIT)
    failure_table, failure_groups = _folded(failures, FAILURE_COLUMNS[1:], {}, HTML_ROW_LIMIT)
    login_table, login_groups = _folded(logins, LOGIN_COLUMNS[1:], {}, HTML_ROW_LIMIT)
    body = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Security and audit report {esc(env or '')}</title><style>{STYLE}</style></head><body>",
        "<h1>Security and audit report</h1>", f'<p class="lead">{lead}</p>',
        '<section id="summary"><h2>Findings by kind and severity</h2>', _verdict(findings),
        findings_summary(kinds),
        '<p class="note">Who did what, when and from where: logins, failures, permission changes and administrator '
        "actions from the security and audit logs, for a GDPR / PCI DSS review. Findings are from "
        "<code>tracklog audit detect</code>; each kind's findings are listed under Details.</p>",
        section("Policy this report applied", table(("setting", "value"), policy_rows), level=4),
        "</section>",
        '<section id="activity"><h2>Activity</h2>', f'<div class="charts">{logins_chart}\n{failures_chart}</div>',
        f'<div class="pair"><div><h3>Logins by outcome and reason</h3>{login_totals}</div>'
        f"<div><h3>Failures by kind</h3>{failure_totals}</div></div></section>",
        '<section id="details"><h2>Details</h2>', _finding_details(kinds),
        section("Permission changes", _limited(PERMISSION_COLUMNS, changes, "changes", "permission_changes.csv"),
                count=str(len(changes)), opened=0 < len(changes) <= OPEN_UP_TO, section_id="permission-changes"),
        section("Administrator actions", admin_table, count=_in_rows(len(actions), admin_groups),
                opened=0 < admin_groups <= OPEN_UP_TO, section_id="admin-actions"),
        section("Failures by account and address", failure_table,
                count=_in_rows(len(failures), failure_groups), section_id="failures"),
        section("Logins by account and address", login_table, count=_in_rows(len(logins), login_groups),
                section_id="logins"),
        "</section></body></html>",
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
