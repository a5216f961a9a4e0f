"""`review schema`'s pure logic: required fields from exporters/schema.py's helpers, and each kind of finding."""

from __future__ import annotations

from typing import Any

from provisioning.review import schema
from provisioning.review.schema import Sample


def record(**fields: Any) -> dict[str, Any]:
    base = {"timestamp": "2026-12-04T10:00:00Z", "level": "info", "message": "m", "service": "api",
            "log_type": "application", "env": "prod"}
    return {**base, **{k.replace("__", "."): v for k, v in fields.items()}}


def http(route: str = "/orders/{id}", **extra: Any) -> dict[str, Any]:
    return record(**{"event__name": "http.request", "http__route": route, "http__request__method": "GET",
                     "http__response__status_code": 200, "http__server__request__duration": 0.01, **extra})


def test_required_fields_come_from_the_helpers() -> None:
    events = schema.event_fields()
    assert events["http.request"] == ("application", ("event.name", "http.route", "http.request.method",
                                                      "http.response.status_code", "http.server.request.duration"))
    assert events["auth.login"][0] == "security"
    assert {"user.id", "auth.outcome", "client.address"} <= set(events["auth.login"][1])
    assert events["permission.change"][0] == "audit"
    assert {"service.start", "service.stop", "process.usage", "db.query", "error", "ui.action",
            "authz.denied"} <= set(events)
    assert schema.required("application", None) == schema.BASE_FIELDS
    assert "http.route" in schema.required("application", "http.request")


def test_missing_fields_counted_per_field_with_their_events() -> None:
    sample = Sample("api", "application", 4, [http(), http(), record(), None])
    bad = sample.records[1]
    del bad["http.response.status_code"]
    del sample.records[2]["message"]
    found = schema.missing(sample)
    assert [(f.field, f.count, f.sampled) for f in found] == [("", 1, 4), ("http.response.status_code", 1, 4),
                                                              ("message", 1, 4)]
    assert "not JSON" in found[0].detail
    assert "(http.request x1)" in found[1].detail
    assert schema.missing(Sample("api", "application", 2, [http(), record()])) == []


def test_unknown_log_types_by_label_and_by_field() -> None:
    [found] = schema.unknown_types(Sample("api", "debug", 7, [record(log_type="debug")]))  # said once
    assert (found.kind, found.field, found.count) == ("unknown_log_type", "log_type", 7)
    [found] = schema.unknown_types(Sample("api", "application", 3, [record(log_type="trace"), record()]))
    assert (found.field, found.count, found.examples) == ("log_type", 1, ("trace",))
    assert schema.unknown_types(Sample("api", "application", 1, [record()])) == []
    assert "no log_type label" in schema.unknown_types(Sample("api", "", 1, [None]))[0].detail


def test_ids_in_a_route_are_unbounded_templates_are_not() -> None:
    ids = Sample("api", "application", 100, [http(f"/orders/{i}") for i in range(100)])
    [found] = schema.unbounded(ids)
    assert (found.kind, found.field, found.count, found.sampled) == ("unbounded_field", "http.route", 100, 100)
    templates = Sample("api", "application", 1000,
                       [http(f"/r{i % 30}", **{"order__id": f"o-{i}"}) for i in range(1000)])
    assert schema.unbounded(templates) == []  # 30 routes in 1000 records; order.id is meant to be an id
    few = Sample("api", "application", 10, [http(f"/orders/{i}") for i in range(10)])
    assert schema.unbounded(few) == []  # under MIN_DISTINCT: too few to tell


def test_labels_beyond_the_four_and_too_many_values() -> None:
    sets = [{"service": "api", "env": "prod", "log_type": "application", "level": "info", "request_id": f"r{i}"}
            for i in range(3)]
    sets += [{"service": "web", "env": f"e{i}", "log_type": "application", "level": "info"} for i in range(60)]
    found = schema.labels(sets)
    assert [(f.service, f.field, f.count) for f in found] == [("api", "request_id", 3), ("web", "env", 60)]
    assert schema.labels(sets[3:10]) == []


def test_new_fields_against_the_lookback_and_stopped_log_types() -> None:
    before = Sample("api", "application", 2, [http(), http()])
    now = Sample("api", "application", 2, [http(**{"cart__size": 3}), http()])
    [found] = schema.new_fields(now, before)
    assert (found.field, found.count, found.sampled) == ("cart.size", 1, 2)
    assert schema.new_fields(now, None) == []  # a new stream: nothing to compare with
    gone = schema.stopped({("api", "application"): 5}, {("api", "application"): 3, ("api", "system"): 4})
    assert [(f.service, f.log_type, f.count) for f in gone] == [("api", "system", 4)]


def test_a_well_behaved_service_has_no_findings() -> None:
    now = {("api", "application"): Sample("api", "application", 40, [http(f"/r{i % 3}") for i in range(40)])}
    before = {("api", "application"): Sample("api", "application", 40, [http() for _ in range(40)])}
    sets = [{"service": "api", "env": "prod", "log_type": "application", "level": "info"}]
    assert schema.findings(now, before, sets, {("api", "application"): 40}, {("api", "application"): 40}) == []


def test_an_event_under_another_log_type_is_misfiled() -> None:
    login = record(**{"event__name": "auth.login", "user__id": "u", "auth__outcome": "failure",
                      "client__address": "192.0.2.1"})
    [found] = schema.misfiled(Sample("api", "application", 2, [login, http()]))
    assert (found.kind, found.count, found.examples) == ("misfiled_event", 1, ("auth.login",))
    assert "not security" in found.detail
    assert schema.misfiled(Sample("api", "security", 1, [{**login, "log_type": "security"}])) == []
