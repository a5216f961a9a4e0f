"""`review schema`: logging standards per service and log type, from samples of the records in Loki.

What a record must carry is taken from ``exporters/schema.py`` itself: every record has the formatter's base
fields, and a record whose ``event.name`` is one of the helpers' events has every field that helper always sets
(found by calling each helper once with its required arguments, so the two cannot drift apart).

Findings, per (service, log type):

- ``missing_fields``: records without a field their type or event requires;
- ``unknown_log_type``: a ``log_type`` (label or field) that is none of the four;
- ``misfiled_event``: a helper's event (``auth.login``...) under another log type than the helper gives it;
- ``unbounded_field``: a field meant to be low-cardinality (routes, outcomes, error types...) whose values are
  mostly distinct: ids or paths where a template belongs;
- ``unbounded_label``: a stream label beyond tracklog's four, or one of them with too many values;
- ``new_field``: a field not seen in the look-back window before the reviewed one;
- ``stopped``: a log type a service emitted in the look-back window and not in the reviewed one.
"""

from __future__ import annotations

import functools
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from exporters import schema as s

BASE_FIELDS = ("timestamp", "level", "message", "service", "log_type")
LABELS = ("service", "env", "log_type", "level")
# Fields whose values are meant to come from a small set: a template, an enum, a code location, a type name.
LOW_CARDINALITY = (
    "level", s.LOG_TYPE, "env", "service", s.EVENT_NAME, s.HTTP_ROUTE, s.HTTP_METHOD, s.HTTP_STATUS, s.DB_SYSTEM,
    s.DB_OPERATION, s.DB_QUERY, s.AUTH_OUTCOME, s.AUTH_REASON, s.AUTH_ROLE, s.ERROR_TYPE, s.CODE_FUNCTION,
    s.CODE_FILEPATH, s.LIFECYCLE_PHASE, s.UI_ACTION, s.SERVICE_VERSION, s.CLIENT_COUNTRY, "logger",
)
MIN_DISTINCT = 20  # fewer distinct values than this is never "unbounded"
MAX_RATIO = 0.3  # distinct values / records carrying the field above this is
MAX_LABEL_VALUES = 50  # distinct values of one standard label for one service


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.fields: dict[str, Any] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.fields = dict(getattr(record, s.FIELDS_ATTR, {}))


@functools.cache
def event_fields() -> dict[str, tuple[str, tuple[str, ...]]]:
    """event.name -> (its log type, the fields its helper in exporters/schema.py always sets)."""
    logger = logging.Logger("tracklog.review.schema", logging.DEBUG)
    capture = _Capture()
    logger.addHandler(capture)
    calls = [
        lambda: s.http_request(logger, route="/r", method="GET", status=200, duration_s=0.1),
        lambda: s.db_query(logger, statement="SELECT 1", duration_s=0.1),
        lambda: s.error(logger, ValueError("x")),
        lambda: s.login_attempt(logger, user_id="u", outcome="success", client_address="192.0.2.1"),
        lambda: s.permission_change(logger, actor="a", target="t", role="r", before=1, after=2),
        lambda: s.access_denied(logger, user_id="u", resource="/x", required_role="r"),
        lambda: s.user_action(logger, user_id="u", action="a"),
        lambda: s.lifecycle(logger, phase="start"),
        lambda: s.lifecycle(logger, phase="stop"),
        lambda: s.resource_usage(logger, cpu=0.1, memory_bytes=1, open_files=1, threads=1),
    ]
    out = {}
    for call in calls:
        call()
        fields = capture.fields
        out[fields[s.EVENT_NAME]] = (fields[s.LOG_TYPE], tuple(k for k in fields if k != s.LOG_TYPE))
    return out


def required(log_type: str, event: str | None) -> tuple[str, ...]:
    """The fields a record of this log type (and event, when it is one of the helpers') must have."""
    extra = event_fields().get(event or "", (None, ()))[1]
    return BASE_FIELDS + tuple(f for f in extra if f not in BASE_FIELDS)


@dataclass(frozen=True)
class Finding:
    kind: str
    service: str
    log_type: str
    detail: str
    field: str = ""
    count: int = 0  # records (or values) concerned, in the sample
    sampled: int = 0  # records read
    examples: tuple[str, ...] = ()


@dataclass
class Sample:
    """The records read of one (service, log type) in one window; ``total`` is how many Loki holds."""

    service: str
    log_type: str
    total: int = 0
    records: list[Mapping[str, Any] | None] = field(default_factory=list)  # None: a line that is not JSON
    label_sets: list[Mapping[str, str]] = field(default_factory=list)

    @property
    def fields(self) -> set[str]:
        return {k for r in self.records if r is not None for k in r}


Key = tuple[str, str]  # (service, log_type)


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def missing(sample: Sample) -> list[Finding]:
    """Records without the fields their type requires (one finding per missing field), and lines not JSON."""
    out = []
    not_json = sum(1 for r in sample.records if r is None)
    if not_json:
        out.append(Finding("missing_fields", sample.service, sample.log_type,
                           f"{not_json} of {len(sample.records)} lines are not JSON objects: no field can be read",
                           "", not_json, len(sample.records)))
    lacking: Counter[str] = Counter()
    events: dict[str, Counter[str]] = defaultdict(Counter)
    for record in sample.records:
        if record is None:
            continue
        event = record.get(s.EVENT_NAME)
        for name in required(sample.log_type, event if isinstance(event, str) else None):
            if record.get(name) in (None, ""):
                lacking[name] += 1
                events[name][str(event or "(no event.name)")] += 1
    for name, n in sorted(lacking.items(), key=lambda kv: (-kv[1], kv[0])):
        seen = ", ".join(f"{e} x{c}" for e, c in events[name].most_common(3))
        out.append(Finding("missing_fields", sample.service, sample.log_type,
                           f"{n} of {len(sample.records)} records lack {name} ({seen})", name, n,
                           len(sample.records)))
    return out


def unknown_types(sample: Sample) -> list[Finding]:
    """The sample's log type (its label) or its records' log_type fields that are none of the four."""
    out = []
    if sample.log_type not in s.LOG_TYPES:
        shown = sample.log_type or "(no log_type label)"
        out.append(Finding("unknown_log_type", sample.service, sample.log_type,
                           f"streams labelled log_type={shown!s}: tracklog knows {', '.join(s.LOG_TYPES)}",
                           "log_type", sample.total, len(sample.records)))
    odd = Counter(_value(r.get(s.LOG_TYPE)) for r in sample.records
                  if r is not None and r.get(s.LOG_TYPE) not in (*s.LOG_TYPES, None, sample.log_type))
    for value, n in odd.most_common():
        out.append(Finding("unknown_log_type", sample.service, sample.log_type,
                           f"{n} records say log_type {value!r}: tracklog knows {', '.join(s.LOG_TYPES)}",
                           s.LOG_TYPE, n, len(sample.records), (value,)))
    return out


def misfiled(sample: Sample) -> list[Finding]:
    """Records of a helper's event under another log type than the helper's (a login as application is kept and
    alerted on as application, not security)."""
    events = event_fields()
    wrong: Counter[tuple[str, str]] = Counter()
    for record in sample.records:
        event = record.get(s.EVENT_NAME) if record is not None else None
        if isinstance(event, str) and event in events and events[event][0] != sample.log_type:
            wrong[(event, events[event][0])] += 1
    return [Finding("misfiled_event", sample.service, sample.log_type,
                    f"{n} {event} records are {sample.log_type or '(no log_type)'}, not {belongs}: their retention, "
                    f"alerts and tenant are {belongs}'s", s.EVENT_NAME, n, len(sample.records), (event,))
            for (event, belongs), n in sorted(wrong.items())]


def unbounded(sample: Sample, min_distinct: int = MIN_DISTINCT, max_ratio: float = MAX_RATIO) -> list[Finding]:
    """Low-cardinality fields whose values are mostly distinct in the sample."""
    values: dict[str, list[str]] = defaultdict(list)
    for record in sample.records:
        if record is None:
            continue
        for name in LOW_CARDINALITY:
            if name in record and record[name] is not None:
                values[name].append(_value(record[name]))
    out = []
    for name, seen in values.items():
        distinct = len(set(seen))
        if distinct >= min_distinct and distinct / len(seen) > max_ratio:
            examples = tuple(sorted(set(seen))[:3])
            out.append(Finding("unbounded_field", sample.service, sample.log_type,
                               f"{name} has {distinct} distinct values in {len(seen)} records (meant to be a small "
                               f"set: a template, an enum; put ids in their own field)", name, distinct, len(seen),
                               examples))
    return out


def labels(label_sets: Iterable[Mapping[str, str]], max_values: int = MAX_LABEL_VALUES) -> list[Finding]:
    """Stream labels beyond tracklog's four, and standard labels with too many values for one service."""
    extra: dict[tuple[str, str], set[str]] = defaultdict(set)
    values: dict[tuple[str, str], set[str]] = defaultdict(set)
    for labelset in label_sets:
        service = labelset.get("service", "")
        for name, value in labelset.items():
            (values if name in LABELS else extra)[(service, name)].add(value)
    out = []
    by_service: dict[str, list[tuple[str, set[str]]]] = defaultdict(list)
    for (service, name), seen in sorted(extra.items()):
        by_service[service].append((name, seen))
    for service, found in by_service.items():
        names = ", ".join(f"{name} ({len(seen)} value{'s' if len(seen) != 1 else ''})" for name, seen in found[:5])
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        out.append(Finding("unbounded_label", service, "", f"labels {names}{more} are not tracklog's "
                           f"({', '.join(LABELS)}): every value is another stream; make them fields",
                           ",".join(name for name, _ in found), sum(len(seen) for _, seen in found), 0,
                           tuple(f"{name}={sorted(seen)[0]}" for name, seen in found[:3])))
    for (service, name), seen in sorted(values.items()):
        if name != "service" and len(seen) > max_values:
            out.append(Finding("unbounded_label", service, "", f"label {name} has {len(seen)} values",
                               name, len(seen), 0, tuple(sorted(seen)[:3])))
    return out


def new_fields(now: Sample, before: Sample | None) -> list[Finding]:
    """Fields in the reviewed window's sample that the look-back window's sample of the same stream lacks."""
    if before is None or not before.records:
        return []
    old = before.fields
    out = []
    for name in sorted(now.fields - old):
        n = sum(1 for r in now.records if r is not None and name in r)
        out.append(Finding("new_field", now.service, now.log_type,
                           f"{name}: in {n} of {len(now.records)} records, in none of {len(before.records)} before",
                           name, n, len(now.records)))
    return out


def stopped(now: Mapping[Key, int], before: Mapping[Key, int]) -> list[Finding]:
    """(service, log type) with lines in the look-back window and none in the reviewed one."""
    return [Finding("stopped", service, log_type, f"{n} lines in the look-back window, none since", "", n)
            for (service, log_type), n in sorted(before.items()) if n and not now.get((service, log_type))]


@dataclass(frozen=True)
class SchemaReview:
    start: float
    end: float
    lookback_start: float
    streams: int  # (service, log type) reviewed
    sample_size: int
    findings: tuple[Finding, ...]
    new_streams: tuple[Key, ...]
    queries: int
    seconds: float


def findings(now: Mapping[Key, Sample], before: Mapping[Key, Sample], label_sets: Sequence[Mapping[str, str]],
             counts_now: Mapping[Key, int], counts_before: Mapping[Key, int]) -> list[Finding]:
    """Every finding over the samples of the reviewed window (``now``) and of the look-back window (``before``)."""
    out: list[Finding] = []
    for key in sorted(now):
        sample = now[key]
        out += unknown_types(sample)
        out += missing(sample)
        out += misfiled(sample) if sample.log_type in s.LOG_TYPES else []
        out += unbounded(sample)
        out += new_fields(sample, before.get(key))
    out += labels(label_sets)
    out += stopped(counts_now, counts_before)
    return out
