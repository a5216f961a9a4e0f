"""A threshold for a firing budget that still catches the incidents the user marked, and which ones it would miss."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from provisioning.errors import TracklogError
from provisioning.review.backtest import Firing, LabelSet, Samples, backtest
from provisioning.timerange import NS, TimeRangeError, format_ns, parse_duration, parse_time

_PERIODS = {"hour": 3600.0, "day": 86_400.0, "week": 7 * 86_400.0, "month": 30 * 86_400.0}
_BUDGET = re.compile(r"\s*(\d+(?:\.\d+)?)\s*/\s*([a-z0-9]+)\s*")
SENSITIVE_LOW = {">", ">="}  # for these a lower threshold fires more; for < and <= a higher one


class ReviewError(TracklogError, ValueError):
    """A review flag could not be used; the message names the flag and the forms it takes."""


@dataclass(frozen=True)
class Budget:
    """At most ``count`` firings per ``period`` seconds."""

    count: float
    period: float
    text: str

    def allowed(self, seconds: float) -> float:
        """How many firings the budget allows over ``seconds`` of history."""
        return self.count * seconds / self.period


def parse_budget(text: str) -> Budget:
    """``2/week``, ``1/day``, ``5/month``, ``3/12h``.

    Raises:
        ReviewError: naming the text and the forms accepted.
    """
    match = _BUDGET.fullmatch(text.lower())
    if not match:
        raise ReviewError(f"--budget {text!r}: use COUNT/PERIOD, e.g. 2/week, 1/day, 5/month or 3/12h")
    count, unit = float(match[1]), match[2]
    if unit in _PERIODS:
        period = _PERIODS[unit]
    else:
        try:
            period = parse_duration(unit) / NS
        except TimeRangeError:
            raise ReviewError(f"--budget {text!r}: the period is hour, day, week, month or a duration "
                              "like 12h") from None
    return Budget(count, period, text)


@dataclass(frozen=True)
class Incident:
    """A window the user marked as a real incident (from a postmortem): the rule should fire for it."""

    start: float
    end: float
    text: str

    def caught_by(self, fired: Sequence[Firing]) -> bool:
        """An alert that fired because of the incident: its condition held within the window (from when it went
        pending) and held long enough to fire. With a `for` longer than the incident, that firing starts after the
        window has closed, as the page did; an alert pending only after the window is another matter."""
        return any(f.active_at <= self.end and f.end >= self.start for f in fired)


def parse_incident(text: str, now_ns: int) -> Incident:
    """``START/END``, each RFC 3339, a date, an epoch or a time ago (``2026-12-01T10:00Z/2026-12-01T10:40Z``).

    Raises:
        ReviewError: the text is not two times separated by ``/``, or END is not after START.
    """
    parts = text.split("/")
    if len(parts) != 2:
        raise ReviewError(f"--incident {text!r}: use START/END, e.g. 2026-12-01T10:00:00Z/2026-12-01T10:40:00Z")
    try:
        start, end = (parse_time(p, now_ns, "--incident") / NS for p in parts)
    except TimeRangeError as exc:
        raise ReviewError(str(exc)) from None
    if end <= start:
        raise ReviewError(f"--incident {text!r}: the end is not after the start")
    return Incident(start, end, f"{format_ns(int(start * NS), 0)}/{format_ns(int(end * NS), 0)}")


def read_incidents(path: str, now_ns: int) -> list[Incident]:
    """One START/END per line of a file; blank lines and lines starting with # are skipped."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = [line.split("#", 1)[0].strip() for line in handle]
    except OSError as exc:
        raise ReviewError(f"--incidents-file {path}: cannot read: {exc.strerror}") from None
    return [parse_incident(line, now_ns) for line in lines if line]


@dataclass(frozen=True)
class Outcome:
    """What a threshold would have done over the history."""

    threshold: float
    firings: int
    caught: tuple[str, ...]  # the marked incidents it fires within
    missed: tuple[str, ...]


@dataclass(frozen=True)
class Suggestion:
    budget: str
    allowed: float
    current: Outcome
    suggested: Outcome  # the current threshold itself when it is within budget and catches every incident
    keep: bool  # the current threshold is fine
    catch_all: Outcome | None  # when the suggestion misses incidents: the threshold that catches them all, if any


def nice(value: float, digits: int = 2) -> float:
    """``value`` rounded to ``digits`` significant digits (0.012345 -> 0.012, 1234 -> 1200)."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def candidates(series: Mapping[LabelSet, Samples], current: float, op: str, steps: int = 100,
               most: int = 400) -> list[float]:
    """Thresholds worth trying: the current one, the signal's rounded values (all of them when there are at most
    ``most``, else its quantiles and both tails, where alerts live), and values past its extremes."""
    values = sorted(v for samples in series.values() for _, v in samples if math.isfinite(v))
    out = {current}
    if values:
        distinct = sorted({nice(v) for v in values})
        if len(distinct) <= most:
            out.update(distinct)
        else:
            n = len(values) - 1
            out.update(nice(values[round(n * i / steps)]) for i in range(steps + 1))
            out.update(distinct[: most // 4] + distinct[-most // 4:])
        top, bottom = values[-1], values[0]
        out.add(nice(top * 1.1) if top > 0 else top + 1)  # beyond the maximum: never fires (for > and >=)
        out.add(nice(bottom * 0.9) if bottom > 0 else bottom - 1)
    return sorted(out, reverse=op not in SENSITIVE_LOW)  # most sensitive first


def evaluate(series: Mapping[LabelSet, Samples], op: str, threshold: float, interval: float, hold: float,
             end: float, incidents: Sequence[Incident]) -> Outcome:
    fired = backtest(series, op, threshold, interval, hold, end)
    caught = tuple(i.text for i in incidents if i.caught_by(fired))
    return Outcome(threshold, len(fired), caught, tuple(i.text for i in incidents if i.text not in caught))


def suggest(series: Mapping[LabelSet, Samples], op: str, current: float, interval: float, hold: float,
            span: tuple[float, float], budget: Budget, incidents: Sequence[Incident] = ()) -> Suggestion:
    """The most sensitive threshold reached from "never fires" without passing one that exceeds ``budget``.

    Walking from the least sensitive threshold towards the most, firings rise; where the signal crosses the
    threshold all the time they fall again (one long firing): the walk stops at the first threshold over budget, so
    a threshold that keeps the alert firing is never suggested. Incidents outside the span are not counted. When
    the suggestion misses marked incidents, ``catch_all`` is the least sensitive threshold that catches them all.
    """
    start, end = span
    marked = [i for i in incidents if i.end >= start and i.start <= end]
    allowed = budget.allowed(end - start)
    walk = list(reversed(candidates(series, current, op)))  # least sensitive first
    outcomes = {t: evaluate(series, op, t, interval, hold, end, marked) for t in walk}
    now = outcomes[current]
    if now.firings <= allowed and not now.missed:
        return Suggestion(budget.text, allowed, now, now, True, None)
    best = outcomes[walk[0]]
    for t in walk:
        if outcomes[t].firings > allowed:
            break
        best = outcomes[t]
    catch_all = None
    if best.missed:
        catch_all = next((outcomes[t] for t in walk if not outcomes[t].missed), None)
    return Suggestion(budget.text, allowed, now, best, False, catch_all)
