"""Replay an alert rule over a history: the states Prometheus's (and Loki's) rule manager would have gone through.

Pure logic, no I/O. Times are Unix seconds. The rule manager evaluates the expression every ``interval``; a label set
that satisfies the comparison becomes *pending* at that evaluation (``active_at``) and *firing* at the first
evaluation at least ``for`` after it (at once when ``for`` is 0); the first evaluation without it resolves a firing
alert and forgets a pending one (rules/alerting.go, ``AlertingRule.Eval``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

LabelSet = tuple[tuple[str, str], ...]  # sorted (name, value) pairs: hashable, printable
Samples = Sequence[tuple[float, float]]  # (time, value), time ascending, one per evaluation where the series existed

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
}


@dataclass(frozen=True)
class Firing:
    """One alert of one label set: firing from ``start`` until ``end`` (the evaluation that resolved it)."""

    labels: LabelSet
    start: float
    end: float
    active_at: float  # when it became pending
    ongoing: bool = False  # still firing at the end of the history: ``end`` is that end
    flap: bool = False  # fired again within the flap window of its label set's previous resolve

    @property
    def seconds(self) -> float:
        return self.end - self.start


def label_set(labels: Mapping[str, str]) -> LabelSet:
    return tuple(sorted(labels.items()))


def compare(op: str, threshold: float) -> Callable[[float], bool]:
    """The predicate ``value <op> threshold``.

    Raises:
        ValueError: naming an operator that is not a PromQL comparison.
    """
    if op not in OPS:
        raise ValueError(f"unknown comparison {op!r}; PromQL has {', '.join(OPS)}")
    fn = OPS[op]
    return lambda value: fn(value, threshold)


def active_times(samples: Samples, predicate: Callable[[float], bool]) -> list[float]:
    """The evaluation times at which the comparison held."""
    return [t for t, v in samples if predicate(v)]


def firings(active: Iterable[float], labels: LabelSet, interval: float, hold: float, end: float,
            flap_window: float | None = None) -> list[Firing]:
    """The alerts of one label set, given the evaluation times at which its comparison held.

    Args:
        active: evaluation times (ascending, on the rule's ``interval`` grid) at which the label set was in the result.
        interval: the rule group's evaluation interval; a gap longer than it means an evaluation without the label set.
        hold: the rule's ``for``.
        end: the end of the history; an alert still firing there is ``ongoing``.
        flap_window: a firing that starts within this long after the previous resolve is a flap (default 2 x ``for``).
    """
    window = 2 * hold if flap_window is None else flap_window
    slack = interval / 2  # the grid of a range query and of the rule manager may differ by rounding
    out: list[Firing] = []
    run_start: float | None = None
    previous: float | None = None
    last_resolve: float | None = None

    def close(resolved_at: float, ongoing: bool) -> None:
        nonlocal last_resolve
        assert run_start is not None
        assert previous is not None
        fire_at = _fire_time(run_start, previous, interval, hold, slack)
        if fire_at is None:
            return
        flap = last_resolve is not None and fire_at - last_resolve <= window
        out.append(Firing(labels, fire_at, resolved_at, run_start, ongoing, flap))
        last_resolve = resolved_at

    for t in active:
        if previous is not None and t - previous > interval + slack:
            close(previous + interval, ongoing=False)
            run_start = None
        if run_start is None:
            run_start = t
        previous = t
    if run_start is not None and previous is not None:
        if end - previous > interval + slack:  # resolved before the history ends
            close(previous + interval, ongoing=False)
        else:
            close(end, ongoing=True)
    return out


def _fire_time(run_start: float, last: float, interval: float, hold: float, slack: float) -> float | None:
    """The first evaluation of the run [run_start, last] at least ``hold`` after its start, if there is one."""
    if hold <= 0:
        return run_start
    steps = -(-hold // interval)  # ceil: evaluations happen only on the grid
    fire_at = run_start + steps * interval
    return fire_at if fire_at <= last + slack else None


def backtest(series: Mapping[LabelSet, Samples], op: str, threshold: float, interval: float, hold: float,
             end: float, flap_window: float | None = None) -> list[Firing]:
    """Every alert the rule would have sent over the history, ordered by start time."""
    predicate = compare(op, threshold)
    out = [f for labels, samples in series.items()
           for f in firings(active_times(samples, predicate), labels, interval, hold, end, flap_window)]
    return sorted(out, key=lambda f: (f.start, f.labels))


def intervals_of(series: Mapping[LabelSet, Samples], interval: float, end: float) -> list[Firing]:
    """Presence of each series as intervals (e.g. Prometheus's ``ALERTS{alertstate="firing"}``): no ``for`` applied."""
    out = [f for labels, samples in series.items()
           for f in firings([t for t, _ in samples], labels, interval, 0.0, end, 0.0)]
    return sorted(out, key=lambda f: (f.start, f.labels))
