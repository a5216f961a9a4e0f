"""The audit report's charts: counts per 10 minutes (periods up to 6 hours), per hour (up to 3 days) or per
day, drawn as inline SVG bars.

The title, the legend and the plot each have their own row, so a long title or many series never overlap.
High and critical findings are drawn as bands behind the bars, at the hours or days they happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from provisioning.audit.findings import Finding, record_ns
from provisioning.audit.markup import esc
from provisioning.timerange import NS, TimeRange

MINUTES_NS, HOUR_NS, DAY_NS = 600 * NS, 3600 * NS, 86400 * NS
MINUTES_UP_TO_NS = 6 * HOUR_NS  # a period up to this long is charted per 10 minutes
HOURLY_UP_TO_NS = 3 * DAY_NS  # a period up to this long per hour, a longer one per day
MAX_TICKS = 16
WIDTH, LEFT, RIGHT, TITLE_Y, LEGEND_Y, TOP, PLOT_H, BOTTOM = 900, 48, 12, 20, 42, 58, 170, 34


@dataclass(frozen=True)
class Buckets:
    """``count`` consecutive buckets of ``step_ns`` from ``start_ns`` (UTC 10 minutes, hours or days)."""

    start_ns: int
    step_ns: int
    count: int

    @property
    def unit(self) -> str:
        return {MINUTES_NS: "10 minutes", HOUR_NS: "hour"}.get(self.step_ns, "day")

    def index(self, ns: int) -> int | None:
        i = (ns - self.start_ns) // self.step_ns
        return i if 0 <= i < self.count else None

    def at(self, i: int) -> datetime:
        return datetime.fromtimestamp((self.start_ns + i * self.step_ns) // NS, UTC)

    def label(self, i: int) -> str:
        """The bucket's full name: 2026-11-18 06:10 (minutes, hours) or 2026-11-18 (days)."""
        return self.at(i).strftime("%Y-%m-%d" if self.unit == "day" else "%Y-%m-%d %H:%M")

    def tick(self, i: int) -> str:
        """The axis label: the time, with the day at midnight and on the first bucket; the day (days)."""
        when = self.at(i)
        if self.unit == "day":
            return when.strftime("%m-%d")
        return when.strftime("%m-%d %H:%M" if i == 0 or not (when.hour or when.minute) else "%H:%M")

    def tick_every(self) -> int:
        """Label every n-th bucket so that at most MAX_TICKS labels show (on round times: 30 min, 6 h...)."""
        need = -(-self.count // MAX_TICKS)
        if self.unit == "day":
            return max(1, need)
        return next((n for n in (1, 2, 3, 4, 6, 12, 24, 48, 72) if n >= need), need)


def buckets_for(span: TimeRange) -> Buckets:
    """10 minutes when the period is up to 6 hours long, hours up to 3 days, else days: whole UTC buckets
    covering the period."""
    length = span.end_ns - span.start_ns
    step = MINUTES_NS if length <= MINUTES_UP_TO_NS else HOUR_NS if length <= HOURLY_UP_TO_NS else DAY_NS
    start = span.start_ns - span.start_ns % step
    end = max(span.end_ns, span.start_ns + 1)
    return Buckets(start, step, max(1, -(-(end - start) // step)))


def counts(records: Iterable[Mapping[str, Any]], buckets: Buckets,
           keep: Callable[[Mapping[str, Any]], bool]) -> list[int]:
    """How many of the kept records fall into each bucket."""
    out = [0] * buckets.count
    for record in records:
        if keep(record):
            i = buckets.index(record_ns(record))
            if i is not None:
                out[i] += 1
    return out


def bar_chart(title: str, buckets: Buckets, series: Sequence[tuple[str, str, Sequence[int]]],
              marks: Sequence[Finding] = (), marks_label: str = "high or critical finding") -> str:
    """An SVG chart of grouped bars, one group per bucket and one bar per series (name, colour, values); the
    ``marks`` (findings) are shaded behind the bars from their first to their last bucket."""
    plot_w = WIDTH - LEFT - RIGHT
    height = TOP + PLOT_H + BOTTOM
    base = TOP + PLOT_H
    peak = max([1, *[v for _, _, values in series for v in values]])
    group = plot_w / buckets.count
    bar = max(1.0, group * 0.8 / max(1, len(series)))
    points = sum(1 for _, _, values in series for v in values if v)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" data-unit="{buckets.unit}" data-points="{points}">'
             f"<title>{esc(title)}</title>",
             f'<text class="chart-title" x="{LEFT}" y="{TITLE_Y}" font-size="15" font-weight="bold">'
             f"{esc(title)}</text>"]
    legend_x = LEFT
    for name, colour, values in series:
        label = f"{name} ({sum(values)})"
        parts.append(f'<g class="legend"><rect x="{legend_x}" y="{LEGEND_Y - 10}" width="11" height="11" '
                     f'fill="{esc(colour)}"/><text x="{legend_x + 15}" y="{LEGEND_Y}" font-size="12">{esc(label)}'
                     f"</text></g>")
        legend_x += 15 + 7 * len(label) + 24
    shaded = [(buckets.index(f.first_ns), buckets.index(f.last_ns), f) for f in marks]
    shaded = [(a, b, f) for a, b, f in shaded if a is not None or b is not None]
    if shaded:
        parts.append(f'<g class="legend"><rect x="{legend_x}" y="{LEGEND_Y - 10}" width="11" height="11" '
                     f'fill="#ffcdd2"/><text x="{legend_x + 15}" y="{LEGEND_Y}" font-size="12">'
                     f"{esc(marks_label)} ({len(shaded)})</text></g>")
    for a, b, f in shaded:
        first = a if a is not None else 0
        last = b if b is not None else buckets.count - 1
        parts.append(f'<rect class="mark" x="{LEFT + first * group:.1f}" y="{TOP}" '
                     f'width="{(last - first + 1) * group:.1f}" height="{PLOT_H}" fill="#ffcdd2" opacity="0.7">'
                     f"<title>{esc(f.kind)} ({esc(f.severity)}): {esc(f.detail)}</title></rect>")
    for fraction in (1.0, 0.5):
        y = base - PLOT_H * fraction
        value = round(peak * fraction)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#e0e0e0"/>'
                     f'<text x="{LEFT - 5}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{value}</text>')
    parts.append(f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="#888"/>'
                 f'<text x="{LEFT - 5}" y="{base + 4}" font-size="10" text-anchor="end">0</text>')
    every = buckets.tick_every()
    for i in range(buckets.count):
        x0 = LEFT + i * group + group * 0.1
        for j, (name, colour, values) in enumerate(series):
            value = values[i]
            if not value:
                continue
            h = max(1.0, PLOT_H * value / peak)
            parts.append(f'<rect class="bar" x="{x0 + j * bar:.1f}" y="{base - h:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}" fill="{esc(colour)}"><title>{esc(buckets.label(i))} {esc(name)}: '
                         f"{value}</title></rect>")
        if i % every == 0:
            x = LEFT + i * group
            parts.append(f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}" stroke="#888"/>'
                         f'<text x="{x:.1f}" y="{base + 16}" font-size="10" text-anchor="middle">'
                         f"{esc(buckets.tick(i))}</text>")
    unit = {"day": "days", "hour": "hours"}.get(buckets.unit, buckets.unit) + " (UTC)"
    parts.append(f'<text x="{WIDTH - RIGHT}" y="{height - 4}" font-size="10" text-anchor="end" fill="#666">'
                 f"{unit}</text></svg>")
    return "\n".join(parts)
