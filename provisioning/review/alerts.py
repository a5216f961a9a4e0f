"""`review alerts`: each rule of the bundle backtested over the history, beside what fired, with its signal's
distribution and a threshold suggested for a firing budget."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

from provisioning.config import Config
from provisioning.review import actual as actual_mod
from provisioning.review import rules as rules_mod
from provisioning.review import stats, suggest, whatif
from provisioning.review.backtest import Firing, LabelSet, backtest
from provisioning.review.history import HistoryError, PrometheusSource, Series, Source
from provisioning.review.rules import ReviewRule


@dataclass(frozen=True)
class Backtest:
    firings: tuple[Firing, ...]
    flap_window: float

    @property
    def count(self) -> int:
        return len(self.firings)

    @property
    def total_seconds(self) -> float:
        return sum(f.seconds for f in self.firings)

    @property
    def median_seconds(self) -> float | None:
        return stats.median(f.seconds for f in self.firings)

    @property
    def flaps(self) -> int:
        return sum(f.flap for f in self.firings)

    @property
    def label_sets(self) -> Counter[LabelSet]:
        return Counter(f.labels for f in self.firings)


@dataclass(frozen=True)
class RuleReview:
    rule: ReviewRule
    backtest: Backtest
    actual: actual_mod.Actual
    overall: stats.Distribution | None
    by_labels: dict[LabelSet, stats.Distribution]
    suggestion: suggest.Suggestion | None
    note: str = ""  # why there is no suggestion
    key: whatif.Key | None = None  # the tracklog.yaml key of its threshold
    error: str = ""  # the history could not be read: nothing else is known
    changed: bool = False  # a --set changed this rule
    before: Backtest | None = None  # with --set: the backtest of the rule as tracklog.yaml has it


@dataclass(frozen=True)
class AlertsReview:
    config_path: str
    start: float
    end: float
    budget: str
    incidents: tuple[suggest.Incident, ...]
    changes: tuple[whatif.Change, ...]
    rules: tuple[RuleReview, ...]
    queries: int
    seconds: float
    notes: tuple[str, ...] = field(default_factory=tuple)


def _unread(rule: ReviewRule, error: str, key: whatif.Key | None) -> RuleReview:
    return RuleReview(rule, Backtest((), flap_window(rule)), actual_mod.Actual(None, "not read"), None, {}, None,
                      note=f"not reviewed: {error}", key=key, error=error)


def flap_window(rule: ReviewRule) -> float:
    """2 x `for`; a rule without `for` counts a refire within two evaluations as a flap."""
    return 2 * rule.hold if rule.hold > 0 else 2 * rule.interval


def run_backtest(rule: ReviewRule, series: Series, end: float) -> Backtest:
    window = flap_window(rule)
    return Backtest(tuple(backtest(series, rule.op, rule.threshold, rule.interval, rule.hold, end, window)), window)


@dataclass
class Sources:
    prometheus: PrometheusSource
    loki: Source
    cache: dict[tuple[str, str, float], Series] = field(default_factory=dict)
    coverage: dict[float, set[float] | None] = field(default_factory=dict)  # interval -> times Prometheus scraped
    fired: dict[float, Series | HistoryError] = field(default_factory=dict)  # interval -> ALERTS of the rules
    loki_alerts: bool | None = None  # whether Prometheus holds ALERTS of any Loki rule (None: not looked yet)

    def series(self, rule: ReviewRule, start: float, end: float) -> Series:
        key = (rule.datasource, rule.tenant, rule.query, rule.interval)
        if key not in self.cache:
            if rule.datasource == "prometheus":
                self.cache[key] = self._covered(self.prometheus.range(rule.query, start, end, rule.interval),
                                                self.scraped(start, end, rule.interval))
            else:
                self.cache[key] = self.loki.range(rule.query, start, end, rule.interval, tenant=rule.tenant)
        return self.cache[key]

    def scraped(self, start: float, end: float, interval: float) -> set[float] | None:
        """The evaluation times at which Prometheus had scraped anything (``up``); None when it has no ``up``.

        A rule such as ``(... or vector(0)) <= 0`` is true whenever Prometheus has no data at all, so without this the
        backtest would page for every hour before Prometheus ran.
        """
        if interval not in self.coverage:
            times = {t for samples in self.prometheus.range("count(up)", start, end, interval).values()
                     for t, _ in samples}
            self.coverage[interval] = times or None
        return self.coverage[interval]

    @staticmethod
    def _covered(series: Series, times: set[float] | None) -> Series:
        if times is None:
            return series
        kept = {labels: [(t, v) for t, v in samples if t in times] for labels, samples in series.items()}
        return {labels: samples for labels, samples in kept.items() if samples}

    def alerts(self, rules: Sequence[ReviewRule], interval: float, start: float, end: float) -> Series:
        """Prometheus's firing ``ALERTS`` of every reviewed rule evaluated at ``interval``, read once (Loki rules'
        too: a Loki ruler that remote-writes leaves them there)."""
        if interval not in self.fired:
            names = [r.name for r in rules if r.interval == interval]
            try:
                self.fired[interval] = self.prometheus.range(actual_mod.selector(names), start, end, interval)
            except HistoryError as exc:
                self.fired[interval] = exc
        read = self.fired[interval]
        if isinstance(read, HistoryError):
            raise read
        return read

    def loki_recorded(self, rules: Sequence[ReviewRule], start: float, end: float) -> bool:
        """Whether Prometheus holds ALERTS of any reviewed Loki rule over the range."""
        if self.loki_alerts is None:
            loki = [r for r in rules if r.datasource != "prometheus"]
            found = False
            for interval in sorted({r.interval for r in loki}):
                try:
                    series = self.alerts(rules, interval, start, end)
                except HistoryError:
                    continue
                found = found or any(actual_mod.of_rule(series, r) for r in loki if r.interval == interval)
            self.loki_alerts = found
        return self.loki_alerts

    @property
    def queries(self) -> int:
        return self.prometheus.queries + self.loki.queries


def parse_match(text: str) -> tuple[str, str, str]:
    """``env=prod`` or ``env!=dev`` -> (name, op, value).

    Raises:
        ReviewError: neither form.
    """
    for op in ("!=", "="):
        name, sep, value = text.partition(op)
        if sep and name.strip():
            return name.strip(), op, value.strip()
    raise suggest.ReviewError(f"--match {text!r}: use LABEL=VALUE or LABEL!=VALUE, e.g. env=prod")


def select(series: Series, matchers: Sequence[tuple[str, str, str]]) -> Series:
    """The series whose labels match; a series without the label is kept (its rule does not split by it)."""
    def keep(labels: LabelSet) -> bool:
        values = dict(labels)
        return all(name not in values or (values[name] == value) == (op == "=") for name, op, value in matchers)
    return {labels: samples for labels, samples in series.items() if keep(labels)}


def review(config: Config, sources: Sources, start: float, end: float, *, only: Sequence[str] = (),
           match: Sequence[tuple[str, str, str]] = (),
           sets: Sequence[str] = (), budget: suggest.Budget | None = None,
           incidents: Sequence[suggest.Incident] = ()) -> AlertsReview:
    """Review every alert rule (or those named in ``only``, by alertname or title) over [start, end].

    Raises:
        ReviewError: a --set or --rule names nothing.
        HistoryError: Prometheus or Loki could not answer.
        RenderError: the bundle does not render.
    """
    started = time.perf_counter()
    budget = budget or suggest.parse_budget("2/week")
    current = rules_mod.load(config)
    tried, changes = whatif.apply(config, sets)
    reviewed = rules_mod.load(tried) if changes else current
    changed = whatif.changed_rules(current, reviewed) if changes else set()
    keys = whatif.threshold_keys(config)
    if only:
        wanted = set(only)
        reviewed = [r for r in reviewed if r.name in wanted or r.title in wanted]
        if not reviewed:
            names = ", ".join(sorted({r.name for r in current}))
            raise suggest.ReviewError(f"--rule {', '.join(only)}: no such alert rule; the bundle has {names}")
    loaded = sources.prometheus.rule_names() if any(r.datasource == "prometheus" for r in reviewed) else None
    before_of = {r.title: r for r in current}
    out = []
    for rule in reviewed:
        try:
            series = select(sources.series(rule, start, end), match)
        except HistoryError as exc:
            out.append(_unread(rule, str(exc), keys.get(rule.title)))
            continue
        result = run_backtest(rule, series, end)
        before = None
        if rule.title in changed and rule.title in before_of:
            old = before_of[rule.title]
            before = run_backtest(old, select(sources.series(old, start, end), match), end)
        suggestion, note = None, ""
        if rule.composite:
            note = "the query compares inside itself (its thresholds are keys in the query): tune them with --set"
        elif series:
            suggestion = suggest.suggest(series, rule.op, rule.threshold, rule.interval, rule.hold, (start, end),
                                         budget, incidents)
        else:
            note = "no data: the query returned no series over the range"
        out.append(RuleReview(
            rule=rule, backtest=result,
            actual=actual_mod.actual(rule, sources.prometheus, start, end, loaded, lambda series: select(series, match),
                                     partial(sources.alerts, reviewed, rule.interval, start, end),
                                     partial(sources.loki_recorded, reviewed, start, end)),
            overall=stats.overall(series), by_labels=stats.by_labels(series), suggestion=suggestion, note=note,
            key=keys.get(rule.title), changed=rule.title in changed, before=before))
    notes = []
    for interval, times in sorted(sources.coverage.items()):
        if times is None:
            notes.append(f"Prometheus has no `up` series: its history is taken as complete (at every {interval:g}s)")
        else:
            notes.append(f"Prometheus has data for {len(times) * interval / 3600:.1f} h of the "
                         f"{(end - start) / 3600:.1f} h (evaluations at which it scraped nothing are left out)")
    return AlertsReview(str(config.path), start, end, budget.text, tuple(incidents), tuple(changes), tuple(out),
                        sources.queries, time.perf_counter() - started, tuple(notes))
