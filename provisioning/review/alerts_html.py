"""`review alerts --html DIR`: one self-contained page (no script, nothing loaded: the audit report's CSP) with a
chart per rule, drawn as inline SVG: the signal (its label sets with the highest peaks), the threshold, the
suggested threshold, the intervals the backtest fires in, and the incidents the user marked.

Long histories are drawn one value per pixel column: the column's highest value for rules that fire above their
threshold (``>``, ``>=``), its lowest for the others, so no peak that would fire is lost to the drawing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from exporters.files import write_atomic
from provisioning.audit.markup import CSP, STYLE, esc
from provisioning.review import output
from provisioning.review.alerts import AlertsReview, RuleReview
from provisioning.review.history import Series

WIDTH, LEFT, RIGHT, TITLE_Y, LEGEND_Y, TOP, PLOT_H, BOTTOM = 960, 64, 16, 20, 42, 78, 200, 34
ROW = 18  # the series' legend is the second row
MAX_SERIES = 5
COLOURS = ("#1565c0", "#6a1b9a", "#00838f", "#5d4037", "#ad1457")
THRESHOLD, SUGGESTED, FIRING, INCIDENT = "#c62828", "#2e7d32", "#ffcc80", "#ce93d8"


def _ticks(start: float, end: float, count: int = 8) -> list[tuple[float, str]]:
    """Round times (1m .. 1d steps) across [start, end], labelled with the day where it changes."""
    span = max(1.0, end - start)
    steps = (60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400)
    step = next((s for s in steps if span / s <= count), steps[-1])
    out, at, last_day = [], math.ceil(start / step) * step, ""
    while at <= end:
        when = datetime.fromtimestamp(at, UTC)
        day = when.strftime("%m-%d")
        out.append((at, when.strftime("%H:%M") if day == last_day else f"{day} {when:%H:%M}"))
        last_day = day
        at += step
    return out


def _columns(samples: Sequence[tuple[float, float]], start: float, end: float, width: float,
             high: bool) -> list[tuple[float, float]]:
    """One (time, value) per pixel column: its highest (``high``) or lowest value."""
    if len(samples) <= width:
        return list(samples)
    kept: dict[int, tuple[float, float]] = {}
    for t, v in samples:
        col = int((t - start) / max(1e-9, end - start) * width)
        if col not in kept or (v > kept[col][1] if high else v < kept[col][1]):
            kept[col] = (t, v)
    return [kept[c] for c in sorted(kept)]


def chart(r: RuleReview, series: Series, start: float, end: float,
          incidents: Sequence[tuple[float, float, str]]) -> str:
    """The SVG chart of one rule; ``data-points`` is how many of the signal's values it draws."""
    rule = r.rule
    plot_w = WIDTH - LEFT - RIGHT
    base = TOP + PLOT_H
    height = base + BOTTOM
    high = rule.op in (">", ">=")
    ranked = sorted(series.items(), key=lambda kv: -max((v for _, v in kv[1] if math.isfinite(v)), default=0)
                    if high else min((v for _, v in kv[1] if math.isfinite(v)), default=0))[:MAX_SERIES]
    drawn = [(labels, _columns([(t, v) for t, v in samples if math.isfinite(v)], start, end, plot_w, high))
             for labels, samples in ranked]
    suggested = r.suggestion.suggested.threshold if r.suggestion is not None and not r.suggestion.keep else None
    values = [v for _, samples in drawn for _, v in samples] + [rule.threshold] + (
        [suggested] if suggested is not None else [])
    low, top = min([0.0, *values]), max(values)
    top = top + (top - low) * 0.08 or 1.0

    def x(t: float) -> float:
        return LEFT + (min(max(t, start), end) - start) / max(1e-9, end - start) * plot_w

    def y(v: float) -> float:
        return base - (v - low) / (top - low) * PLOT_H

    points = sum(len(samples) for _, samples in drawn)
    title = f"{rule.title}: {rule.op} {output.number(rule.threshold)}"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" data-rule="{esc(rule.title)}" data-points="{points}" '
             f'data-series="{len(drawn)}" data-firings="{r.backtest.count}" data-incidents="{len(incidents)}" '
             f'data-plot-top="{TOP}">'
             f"<title>{esc(title)}</title>",
             f'<text class="chart-title" x="{LEFT}" y="{TITLE_Y}" font-size="15" font-weight="bold">'
             f"{esc(title)}</text>"]
    legend: list[tuple[str, str, str]] = [(THRESHOLD, f"threshold {rule.op} {output.number(rule.threshold)}",
                                           "dash")]
    if suggested is not None:
        legend.append((SUGGESTED, f"suggested {rule.op} {output.number(suggested)}", "dash"))
    if r.backtest.count:
        legend.append((FIRING, f"would fire ({r.backtest.count})", "box"))
    if incidents:
        legend.append((INCIDENT, f"marked incident ({len(incidents)})", "box"))
    shared = set.intersection(*(set(labels) for labels, _ in drawn)) if len(drawn) > 1 else set()
    series_legend = [(COLOURS[i], output.labels_text(tuple(p for p in labels if p not in shared)) if labels
                      else "signal", "line") for i, (labels, _) in enumerate(drawn)]
    for row, entries in enumerate((legend, series_legend)):
        parts += _legend_row(entries, LEGEND_Y + row * ROW)
    for a, b, text in incidents:
        parts.append(f'<rect class="incident" x="{x(a):.1f}" y="{TOP}" width="{max(2.0, x(b) - x(a)):.1f}" '
                     f'height="{PLOT_H}" fill="{INCIDENT}" opacity="0.45"><title>incident {esc(text)}</title></rect>')
    for f in r.backtest.firings:
        parts.append(f'<rect class="firing" x="{x(f.start):.1f}" y="{TOP}" '
                     f'width="{max(2.0, x(f.end) - x(f.start)):.1f}" height="{PLOT_H}" fill="{FIRING}" '
                     f'opacity="0.6"><title>fires {esc(output.labels_text(f.labels))} '
                     f"{esc(output._when(f.start))} .. {esc(output._when(f.end))} "
                     f"({esc(output.duration(f.seconds))})</title></rect>")
    for fraction in (0.0, 0.5, 1.0):
        v = low + (top - low) * fraction
        parts.append(f'<line x1="{LEFT}" y1="{y(v):.1f}" x2="{WIDTH - RIGHT}" y2="{y(v):.1f}" '
                     f'stroke="{"#888" if fraction == 0 else "#e0e0e0"}"/>'
                     f'<text x="{LEFT - 5}" y="{y(v) + 4:.1f}" font-size="10" text-anchor="end">'
                     f"{esc(output.number(v))}</text>")
    for t, label in _ticks(start, end):
        parts.append(f'<line x1="{x(t):.1f}" y1="{base}" x2="{x(t):.1f}" y2="{base + 4}" stroke="#888"/>'
                     f'<text x="{x(t):.1f}" y="{base + 16}" font-size="10" text-anchor="middle">{esc(label)}</text>')
    for i, (labels, samples) in enumerate(drawn):
        path = _path(samples, x, y, gap=2.5 * r.rule.interval)
        if path:
            parts.append(f'<path class="signal" d="{path}" fill="none" stroke="{COLOURS[i]}" stroke-width="1.4" '
                         f'data-points="{len(samples)}"><title>{esc(output.labels_text(labels))}</title></path>')
    parts.append(f'<line class="threshold" x1="{LEFT}" y1="{y(rule.threshold):.1f}" x2="{WIDTH - RIGHT}" '
                 f'y2="{y(rule.threshold):.1f}" stroke="{THRESHOLD}" stroke-width="1.5" stroke-dasharray="6 3"/>')
    if suggested is not None:
        parts.append(f'<line class="suggested" x1="{LEFT}" y1="{y(suggested):.1f}" x2="{WIDTH - RIGHT}" '
                     f'y2="{y(suggested):.1f}" stroke="{SUGGESTED}" stroke-width="1.5" stroke-dasharray="6 3"/>')
    parts.append(f'<text x="{WIDTH - RIGHT}" y="{height - 4}" font-size="10" text-anchor="end" fill="#666">'
                 f"time (UTC)</text></svg>")
    return "\n".join(parts)


def _legend_row(entries: Sequence[tuple[str, str, str]], at: float) -> list[str]:
    """One row of legend entries (colour, label, line/dash/box), "+N more" where the row is full."""
    parts, lx = [], LEFT
    for n, (colour, label, kind) in enumerate(entries):
        dash = ' stroke-dasharray="4 2"' if kind == "dash" else ""
        label = label if len(label) <= 48 else label[:45] + "..."
        width = 15 + 6.5 * len(label) + 18
        if lx + width > WIDTH - RIGHT - 70:
            parts.append(f'<g class="legend"><text x="{lx}" y="{at}" font-size="12" fill="#666">'
                         f"+{len(entries) - n} more</text></g>")
            break
        mark = (f'<rect x="{lx}" y="{at - 10}" width="11" height="11" fill="{colour}"/>' if kind == "box" else
                f'<line x1="{lx}" y1="{at - 4}" x2="{lx + 11}" y2="{at - 4}" stroke="{colour}" '
                f'stroke-width="2"{dash}/>')
        parts.append(f'<g class="legend">{mark}<text x="{lx + 15}" y="{at}" font-size="12">{esc(label)}</text></g>')
        lx += width
    return parts


def _path(samples: Sequence[tuple[float, float]], x, y, gap: float) -> str:
    """An SVG path through the samples, broken where the signal has no value for longer than ``gap``."""
    out, last = [], None
    for t, v in samples:
        out.append(f"{'L' if last is not None and t - last <= gap else 'M'}{x(t):.1f},{y(v):.1f}")
        last = t
    return "".join(out)


def _summary_row(r: RuleReview, budget: str) -> str:
    rule = r.rule
    fired = "not reviewed" if r.error else output._fired(r.backtest)
    actual = "-" if r.actual.firings is None else str(len(r.actual.firings))
    s = r.suggestion
    suggestion = (r.note or "-") if s is None else (f"keep {rule.op} {output.number(rule.threshold)}" if s.keep else
                                                     f"{rule.op} {output.number(s.suggested.threshold)}: "
                                                     f"{output._outcome(s.suggested, budget)}")
    cells = [f'<a href="#{_anchor(rule.title)}">{esc(rule.title)}</a>', esc(rule.datasource),
             esc(f"{rule.op} {output.number(rule.threshold)}"), esc(fired), esc(actual), esc(suggestion)]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _anchor(title: str) -> str:
    return "rule-" + "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in title)


def render(review: AlertsReview, series_of: Mapping[str, Series], config_name: str = "tracklog.yaml") -> str:
    """The page; ``series_of`` maps each rule's title to the signal it was backtested on."""
    incidents = [(i.start, i.end, i.text) for i in review.incidents]
    head = output.text(review, config_name).splitlines()[0]
    rows = "".join(_summary_row(r, review.budget) for r in review.rules)
    sections = []
    for r in review.rules:
        body = "" if r.error else chart(r, series_of.get(r.rule.title, {}), review.start, review.end, incidents)
        details = "\n".join(output.rule_text(r, config_name, review.budget))
        sections.append(f'<section id="{_anchor(r.rule.title)}" class="rule"><h3>{esc(r.rule.title)}</h3>'
                        f'<div class="charts">{body}</div><pre>{esc(details)}</pre></section>')
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in review.notes)
    changes = "".join(f'<p class="note">what-if: {esc(c.key.path)} = {esc(c.new)} (now {esc(c.key.value)}); '
                      "nothing written</p>" for c in review.changes)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>tracklog review alerts</title><style>{STYLE}
pre{{font-size:12px;background:#f7f7f7;padding:.5em;overflow-x:auto}}</style></head>
<body><h1>Alert rules backtested</h1><p class="lead">{esc(head)}</p>{changes}{notes}
<table id="rules-summary"><thead><tr><th>rule</th><th>datasource</th><th>threshold</th><th>would have fired</th>
<th>actually fired</th><th>suggestion</th></tr></thead><tbody>{rows}</tbody></table>
{"".join(sections)}
<p class="note">{len(review.rules)} rules, {review.queries} queries, {review.seconds:.1f}s</p>
</body></html>
"""


def write(out_dir: Path, review: AlertsReview, series_of: Mapping[str, Series],
          config_name: str = "tracklog.yaml") -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    page = out_dir / "review-alerts.html"
    write_atomic(page, render(review, series_of, config_name), mode=0o644)
    return page

