"""HTML building blocks of the audit report: escaping, tables, collapsible sections and the page's style.

Every value that comes from a record goes through :func:`esc` (the records carry what users typed). The page
runs no script and loads nothing: :data:`CSP` forbids both, so even a value that escaped escaping could not.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

# no network, no script, no frames: styles inline only (the SVG charts are inline markup, not images)
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
SEVERITY_COLOURS = {"critical": "#b71c1c", "high": "#e65100", "medium": "#f9a825", "low": "#607d8b"}


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


def anchor(*parts: str) -> str:
    """An id for an element from free text: lowercase letters, digits, '-' and '_' only."""
    return re.sub(r"[^a-z0-9_-]+", "-", "-".join(parts).lower()).strip("-") or "x"


def badge(severity: str, label: str = "") -> str:
    colour = SEVERITY_COLOURS.get(severity, "#757575")
    return f'<span class="sev" style="background:{colour}">{esc(label or severity)}</span>'


def table(columns: Sequence[str], rows: Sequence[Mapping[str, str]], table_id: str = "", limit: int = 0,
          raw: Sequence[str] = ()) -> str:
    """A table of ``rows`` (their ``columns``; cells escaped except the columns in ``raw``, which the caller built
    as markup), at most ``limit`` rows when limit > 0."""
    shown = rows[:limit] if limit > 0 else rows
    attr = f' id="{table_id}"' if table_id else ""
    out = [f"<table{attr}><thead><tr>" + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr></thead><tbody>"]
    out.extend("<tr>" + "".join(f"<td>{row.get(c, '') if c in raw else esc(row.get(c, ''))}</td>" for c in columns)
               + "</tr>" for row in shown)
    out.append("</tbody></table>")
    return "".join(out)


def section(title: str, body: str, *, count: str = "", opened: bool = False, section_id: str = "",
            level: int = 3) -> str:
    """A collapsible section: its title and count always show, its body only when opened."""
    attr = (f' id="{section_id}"' if section_id else "") + (" open" if opened else "")
    small = f" <small>({esc(count)})</small>" if count else ""
    return f"<details{attr}><summary><h{level}>{esc(title)}{small}</h{level}></summary>\n{body}\n</details>"


STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#222;max-width:1200px}
h1{margin:0 0 .2em}h2{margin:1.2em 0 .4em;border-bottom:1px solid #ddd}h3,h4{font-size:1.05em;margin:.6em 0 .2em}
summary>h3,summary>h4{display:inline}
h2 small,h3 small{color:#666;font-weight:normal}.lead{color:#444;margin:.2em 0 1em}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:12px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}th{background:#eee}
td{max-width:40em;overflow-wrap:break-word}
details{margin:.3em 0}details>summary{cursor:pointer;padding:2px 0}details details{margin-left:1.2em}
.sev{color:#fff;border-radius:3px;padding:1px 6px;font-size:12px;font-weight:600;white-space:nowrap}
.verdict{font-size:15px;margin:.4em 0}.verdict .sev{font-size:14px;margin-right:.4em}
.charts svg{display:block;margin:0 0 1em;max-width:100%;height:auto}
.quiet{color:#2e7d32;font-weight:600}.note{color:#555;font-size:13px}
.pair{display:flex;gap:2em;flex-wrap:wrap}.pair>div{flex:1 1 30em}"""
