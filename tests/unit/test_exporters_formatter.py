"""JsonFormatter, redaction and the schema helpers: the shape of a record, and that nothing ever raises."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporters import JsonFormatter, LokiHandler, Redactor, context, schema
from exporters.redact import luhn_valid, may_hold_default_secret
from exporters.testing import FakeTransport


def capture(formatter: JsonFormatter | None = None) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter or JsonFormatter(service="api", env="test"))
    logger = logging.getLogger(f"unit.{id(stream)}")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger, stream


def _record(extra: dict) -> logging.LogRecord:
    record = logging.LogRecord("unit", logging.INFO, __file__, 1, "with extras", None, None)
    record.__dict__.update(extra)
    return record


def records(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_record_has_the_schema_fields():
    log, out = capture()
    schema.http_request(log, route="/orders/{id}", method="post", status=503, duration_s=0.25, path="/orders/9")
    (r,) = records(out)
    assert r["log_type"] == "application"
    assert r["level"] == "error"
    assert r["service"] == "api"
    assert r["env"] == "test"
    assert r["http.request.method"] == "POST"
    assert r["http.response.status_code"] == 503
    assert r["http.route"] == "/orders/{id}"
    assert r["timestamp"].endswith("Z")
    assert r["code.function"] == "test_a_record_has_the_schema_fields"  # where the helper was called


def test_a_helper_records_the_line_and_file_of_its_caller_for_every_handler():
    log, out = capture(JsonFormatter(service="api", env="test", code_origin_level=logging.DEBUG))
    plain = io.StringIO()
    other = logging.StreamHandler(plain)  # a stdlib handler of the user's, reading the record's own attributes
    other.setFormatter(logging.Formatter("%(filename)s:%(lineno)d %(funcName)s %(levelname)s %(message)s"))
    log.addHandler(other)
    line = sys._getframe().f_lineno + 1
    schema.user_action(log, user_id="u1", action="open_map")
    (r,) = records(out)
    assert (r["code.function"], r["code.lineno"], r["code.filepath"]) == (
        "test_a_helper_records_the_line_and_file_of_its_caller_for_every_handler", line, __file__)
    assert plain.getvalue() == (f"test_exporters_formatter.py:{line} "
                                "test_a_helper_records_the_line_and_file_of_its_caller_for_every_handler INFO "
                                "user u1 open_map\n")


def test_helpers_keep_logger_semantics_filters_disabled_loggers_and_adapters():
    log, out = capture()
    log.addFilter(lambda record: "secret-route" not in record.getMessage())
    schema.http_request(log, route="/secret-route", method="GET", status=200, duration_s=0.01)
    schema.http_request(log, route="/orders", method="GET", status=200, duration_s=0.01)
    assert [r["http.route"] for r in records(out)] == ["/orders"]  # the logger's filter still runs
    log.disabled = True
    schema.http_request(log, route="/while-disabled", method="GET", status=200, duration_s=0.01)
    log.disabled = False
    assert len(records(out)) == 1
    adapter = logging.LoggerAdapter(log, {"order.id": "o-1"})
    schema.http_request(adapter, route="/adapted", method="GET", status=200, duration_s=0.01)  # type: ignore[arg-type]
    assert records(out)[-1]["message"].startswith("GET /adapted 200")


@pytest.mark.parametrize(("helper", "kwargs", "log_type"), [
    (schema.login_attempt, {"user_id": "u", "outcome": "failure", "client_address": "1.2.3.4"}, "security"),
    (schema.permission_change, {"actor": "a", "target": "b", "role": "admin", "before": "x", "after": "y"}, "audit"),
    (schema.user_action, {"user_id": "u", "action": "open_map"}, "audit"),
    (schema.lifecycle, {"phase": "start"}, "system"),
    (schema.resource_usage, {"cpu": 0.1, "memory_bytes": 1, "open_files": 3, "threads": 2}, "system"),
    (schema.db_query, {"statement": "select 1", "duration_s": 0.1}, "application"),
])
def test_each_helper_logs_its_log_type(helper, kwargs, log_type):
    log, out = capture()
    helper(log, **kwargs)
    assert records(out)[0]["log_type"] == log_type


def test_sql_is_logged_as_its_fingerprint():
    assert schema.fingerprint_sql("SELECT * FROM t WHERE a = 'x''y' AND b IN (1, 2, 3) AND c=4.5") == \
        "SELECT * FROM t WHERE a = ? AND b IN (?) AND c=?"


def test_exceptions_carry_type_origin_and_stack():
    log, out = capture()
    try:
        {}["missing"]
    except KeyError:
        log.exception("lookup failed")
    (r,) = records(out)
    assert r["error.type"] == "KeyError"
    assert r["code.function"] == "test_exceptions_carry_type_origin_and_stack"
    assert "Traceback" in r["exception.stacktrace"]


def test_bound_context_fields_reach_every_record_inside_the_block():
    log, out = capture()
    with context.bound(trace_id="a" * 32, **{"order.id": "o-1"}):
        log.info("inside")
    log.info("outside")
    inside, outside = records(out)
    assert inside["trace_id"] == "a" * 32
    assert inside["order.id"] == "o-1"
    assert "trace_id" not in outside


def test_dict_config_builds_the_formatter():
    logging.config.dictConfig({
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"json": {"()": "exporters.JsonFormatter", "service": "from-dictconfig"}},
        "handlers": {"mem": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
        "loggers": {"dictconfig.test": {"handlers": ["mem"], "level": "INFO", "propagate": False}},
    })
    handler = logging.getLogger("dictconfig.test").handlers[0]
    assert isinstance(handler.formatter, JsonFormatter)
    assert handler.formatter.service == "from-dictconfig"


@pytest.mark.parametrize(("text", "secret"), [
    ("mail anna@example.org now", "anna@example.org"),
    ("card 4111-1111-1111-1111 ok", "4111-1111-1111-1111"),
    ("GET /x?password=hunter2&x=1", "hunter2"),
    ("Authorization: Bearer abc.def-ghi_123", "abc.def-ghi_123"),
    ("redis://user:s3cret@cache:6379/0", "s3cret"),
    ("api_key: 'ZZ99XX88'", "ZZ99XX88"),
    ("call +14155552671 please", "+14155552671"),
    ("call (030) 1234-5678 please", "1234-5678"),
])
def test_redaction_masks_sensitive_values(text, secret):
    assert secret not in Redactor().text(text)


def test_redaction_leaves_ordinary_numbers_alone():
    r = Redactor()
    for ip in ("185.220.101.34", "10.0.0.1", "203.0.113.255", "version 2.42.0"):
        assert r.text(f"from {ip} ok") == f"from {ip} ok"
    assert r.text("order 1234567890123 took 250ms") == "order 1234567890123 took 250ms"  # fails Luhn
    assert r.text("2026-11-26T12:00:00Z status 200") == "2026-11-26T12:00:00Z status 200"


def test_redaction_masks_known_field_names_recursively():
    out = Redactor().fields({"user": {"password": "x", "name": "n"}, "headers": [{"Authorization": "t"}]})
    assert out == {"user": {"password": "[REDACTED]", "name": "n"}, "headers": [{"Authorization": "[REDACTED]"}]}


def test_the_formatter_masks_top_level_secrets_and_keeps_empty_ones_empty():
    event = JsonFormatter(service="s").event(_record(extra={
        "password": "hunter2", "api_key": None, "user.email": "ann@example.com", "attempts": 3,
        "headers": {"Authorization": "Bearer abcdefghijk"}, "note": "",
    }))
    assert event["password"] == "[REDACTED]"
    assert event["api_key"] is None
    assert event["note"] == ""
    assert event["attempts"] == 3
    assert event["user.email"] == "[REDACTED:email]"
    assert event["headers"] == {"Authorization": "[REDACTED]"}


def test_luhn():
    assert luhn_valid("4539148803436467")
    assert not luhn_valid("4539148803436468")


def _reject_non_json(token: str) -> None:
    raise AssertionError(f"{token} is not JSON; Loki's | json would fail on it")


class _Evil:
    def __str__(self) -> str:
        raise RuntimeError("boom")

    __repr__ = __str__


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary()
    | st.builds(_Evil) | st.just(float("nan")),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(msg=st.one_of(st.text(), st.builds(_Evil), values), args=st.lists(values, max_size=3),
       extra=st.dictionaries(st.text(min_size=1, max_size=12).filter(lambda k: k not in logging.LogRecord(
           "", 0, "", 0, "", (), None).__dict__ and k not in ("message", "asctime")), values, max_size=4))
def test_formatting_never_raises_and_always_renders_one_json_object(msg, args, extra):
    formatter = JsonFormatter(service="fuzz")
    record = logging.LogRecord("fuzz", logging.WARNING, __file__, 1, msg, tuple(args) or None, None)
    record.__dict__.update(extra)
    line = formatter.format(record)
    assert isinstance(json.loads(line, parse_constant=_reject_non_json), dict)
    assert "\n" not in line


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_redaction_never_raises_and_is_idempotent(text):
    r = Redactor()
    once = r.text(text)
    assert r.text(once) == once


# Text close to every default pattern's shape, so the property below explores the edges of the pre-check.
_near_secrets = st.text(alphabet=st.sampled_from(list("0123456789 -+()@=:.eyJBbearRr/_abcXYZ?&,'\"AKIQ~xoghp")),
                        max_size=40)


@settings(max_examples=2000, deadline=None)
@given(st.one_of(_near_secrets, st.text(max_size=40)))
def test_the_pre_check_never_skips_a_value_a_default_pattern_would_change(text):
    r = Redactor()
    if not may_hold_default_secret(text):
        assert r._regex.sub(r._replace, text) == text
        assert r._mask_phones(text) == text


def test_a_custom_pattern_turns_the_pre_check_off():
    r = Redactor(extra_patterns={"order_secret": r"ord-[a-z]{4}"})
    assert r.text("see ord-abcd") == "see [REDACTED:order_secret]"


def test_redaction_never_changes_the_callers_nested_values():
    nested = {"contact": "ann@example.com", "tags": ["call +4915112345678"]}
    event = JsonFormatter(service="s").event(_record(extra={"customer": nested}))
    assert event["customer"] == {"contact": "[REDACTED:email]", "tags": ["call [REDACTED:phone]"]}
    assert nested == {"contact": "ann@example.com", "tags": ["call +4915112345678"]}


@pytest.mark.parametrize(("value", "expected"), [
    (float("nan"), None),  # JSON has no NaN; null keeps the line parseable by Loki's | json
    (2**70, 2**70),  # beyond 64 bits: the slow path (stdlib json) renders it
    ("lone \udc80 surrogate", None),
])
def test_values_the_fast_encoder_refuses_still_render_as_json(value, expected):
    line = JsonFormatter(service="s").format(_record(extra={"odd": value}))
    parsed = json.loads(line, parse_constant=_reject_non_json)
    if expected is not None or value != value:
        assert parsed["odd"] == expected
    else:
        assert "surrogate" in parsed["odd"]


def test_the_handler_never_raises_into_the_caller():
    fake = FakeTransport()
    handler = LokiHandler(transport=fake, service="x", batch_max_wait=0.05)
    log = logging.getLogger("unit.never-raises")
    log.handlers[:] = [handler]
    log.propagate = False
    log.error("%s %d", "too", "few-and-wrong")  # bad format args
    log.error(_Evil())
    assert handler.client.flush(5)
    assert len(fake.lines()) == 2
    handler.close()


def test_python_logging_loki_arguments_are_accepted():
    handler = LokiHandler(url="http://loki:3100/loki/api/v1/push", tags={"application": "tracking"},
                          auth=("user", "pass"), version="1", transport=FakeTransport())
    assert handler.tags == {"application": "tracking"}
    handler.close()


def test_audit_and_security_records_are_hash_chained_once_per_record():
    from exporters.chain import HASH, PREV, SEQ, record_hash

    formatter = JsonFormatter(service="api")
    first_out, second_out = io.StringIO(), io.StringIO()
    log = logging.getLogger("unit.chain")
    log.handlers[:] = []
    for out in (first_out, second_out):  # two handlers share one formatter: the chain advances once per record
        handler = logging.StreamHandler(out)
        handler.setFormatter(formatter)
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    schema.user_action(log, user_id="u", action="refresh")
    schema.login_attempt(log, user_id="u", outcome="success", client_address="1.2.3.4")
    schema.user_action(log, user_id="u", action="open_map")
    log.info("plain application record")
    first, second = records(first_out), records(second_out)
    assert [r.get(SEQ) for r in first] == [1, 1, 2, None]  # audit chain 1, 2; security chain 1; none for app
    assert first == second
    assert first[2][PREV] == first[0][HASH]
    assert all(record_hash(r) == r[HASH] for r in first[:3])


def test_a_failing_handler_counts_and_logs_the_drop(caplog):
    fake = FakeTransport()
    handler = LokiHandler(transport=fake, service="x", batch_max_wait=0.05)

    def broken_push(*args, **kwargs):
        raise RuntimeError("queue exploded")

    handler.client.push = broken_push  # type: ignore[method-assign]
    log = logging.getLogger("unit.handler-error")
    log.handlers[:] = [handler]
    log.propagate = False
    with caplog.at_level("WARNING", logger="tracklog.internal"):
        log.error("lost?")
    assert handler.client.stats.dropped["handler_error"] == 1
    assert "handler_error" in caplog.text
    handler.close()


def test_the_loki_handler_runs_its_filters_and_never_ships_tracklogs_own_warnings():
    fake = FakeTransport()
    handler = LokiHandler(transport=fake, service="x", batch_max_wait=0.05)
    handler.addFilter(lambda record: "drop me" not in record.getMessage())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        logging.getLogger("unit.filtered").warning("keep me")
        logging.getLogger("unit.filtered").warning("drop me")
        logging.getLogger("tracklog.internal").warning("tracklog: Loki refused a batch")  # would loop back into Loki
        handler.flush()
    finally:
        root.removeHandler(handler)
        handler.close()
    assert [json.loads(line)["message"] for line in fake.lines()] == ["keep me"]
