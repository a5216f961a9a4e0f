"""Records that survive the real world, against the real Loki: redaction corpus, hostile records, label limits,
refusals, and python-logging-loki's documented examples through the drop-in."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporters import LokiHandler
from exporters.loki import LokiClient
from exporters.loki.labels import LOKI_2_2, label_set
from exporters.redact import Redactor
from tests.integration.conftest import loki_lines, loki_query_range, wait_for
from tests.unit.test_exporters_redaction_corpus import clean, sensitive

DATA = Path(__file__).resolve().parents[1] / "unit" / "data" / "redaction"
REGIONS = ["DE", "AT", "CH", "NL", "FR", "US"]


def unique(name: str) -> str:
    return f"it-{name}-{time.time_ns() % 10**10}"


def make_logger(name: str, handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger(f"tests.records.{name}")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger


def test_the_corpus_leaks_nothing_and_changes_nothing_clean_in_loki(loki_url: str) -> None:
    service = unique("corpus")
    handler = LokiHandler(loki_url, service=service, batch_max_wait=0.2, redactor=Redactor(phone_regions=REGIONS))
    log = make_logger(service, handler)
    rows, clean_lines = sensitive(), clean()
    for _, text, _ in rows:
        log.warning(text, extra={"corpus": "sensitive"})
    for text in clean_lines:
        log.info(text, extra={"corpus": "clean"})
    assert handler.client.flush(20)
    expected = len(rows) + len(clean_lines)
    lines = wait_for(lambda: (got := loki_lines(loki_url, f'{{service="{service}"}}')) and len(got) == expected
                     and got, what="the corpus in Loki")
    records = [json.loads(line) for line in lines]
    everything = "\n".join(lines)
    leaks = [(kind, secret) for kind, _, secret in rows
             if json.dumps(secret)[1:-1] in everything or secret in everything]
    assert leaks == []
    arrived_clean = sorted(r["message"] for r in records if r["corpus"] == "clean")
    assert arrived_clean == sorted(clean_lines)  # 0 false positives: every clean line arrived unchanged
    handler.close()


class _BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    __str__ = __repr__


def _cycle() -> list:
    loop: list = [1]
    loop.append(loop)
    return loop


odd_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=200) | st.binary(max_size=50)
    | st.builds(_BadRepr) | st.builds(_cycle) | st.just(float("inf"))
    | st.builds(lambda ch, n: ch * n, st.characters(), st.integers(20_000, 300_000))
    | st.sampled_from(["\udc80 lone surrogate", "\u202e\u0000\ufeff", "\U0001d518\U0001d52b\U0001d526 " * 50,
                       "line\nbreak"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
extra_keys = st.text(min_size=1, max_size=10).filter(
    lambda k: k not in logging.LogRecord("", 0, "", 0, "", (), None).__dict__ and k not in ("message", "asctime"))


def test_hostile_records_are_each_delivered_or_counted_and_nothing_raises(loki_url: str) -> None:
    service = unique("hostile")
    handler = LokiHandler(loki_url, service=service, batch_max_wait=0.2, label_limits=LOKI_2_2)
    log = make_logger(service, handler)
    logged = 0

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(msg=st.one_of(st.text(max_size=300), st.builds(_BadRepr), odd_values),
           extra=st.dictionaries(extra_keys, odd_values, max_size=40),
           tags=st.dictionaries(st.text(max_size=40), st.one_of(st.text(max_size=3000), st.integers()), max_size=45))
    def log_one(msg: object, extra: dict, tags: dict) -> None:
        nonlocal logged
        log.warning(msg, extra={**extra, "tags": tags, "seq": logged})  # raises here would fail the test
        logged += 1

    log_one()
    assert handler.client.flush(30)
    stats = handler.client.stats
    counted = stats.sent + sum(stats.dropped.values())
    assert stats.accepted == logged
    assert counted == logged, (stats.sent, stats.dropped, stats.refused)
    arrived = wait_for(lambda: (n := sum(len(s["values"]) for s in loki_query_range(
        loki_url, f'{{service="{service}"}}'))) >= stats.sent and n, what="the hostile records")
    assert arrived == stats.sent
    assert stats.refused == {}  # labels were fitted: Loki had nothing to refuse
    handler.close()


def test_one_refused_entry_does_not_cost_the_rest_of_its_batch(loki_url: str) -> None:
    service = unique("refused")
    client = LokiClient(loki_url, batch_max_wait=10)
    labels = label_set({"service": service, "env": "test"})
    now = time.time_ns()
    for i in range(20):  # one entry an hour in the future: Loki (creation_grace_period 10m) refuses it alone
        client.push(labels, now + i if i != 7 else now + 3600 * 10**9, f"line {i}")
    assert client.flush(10)
    assert client.stats.refused == {"too_far_in_future": 1}
    assert client.stats.sent == 19
    lines = wait_for(lambda: (got := loki_lines(loki_url, f'{{service="{service}"}}')) and len(got) == 19 and got,
                     what="the 19 valid lines")
    assert "line 7" not in lines
    client.close()


def test_a_record_with_more_tags_than_loki_allows_arrives_with_its_batch(loki_url: str) -> None:
    service = unique("tags")
    handler = LokiHandler(loki_url, service=service, batch_max_wait=10, label_limits=LOKI_2_2)
    log = make_logger(service, handler)
    log.info("before")
    log.info("many tags", extra={"tags": {f"tag_{i}": f"v{i}" for i in range(60)}})
    log.info("after")
    assert handler.client.flush(10)
    assert handler.client.stats.refused == {}
    lines = wait_for(lambda: (got := loki_lines(loki_url, f'{{service="{service}"}}')) and len(got) == 3 and got,
                     what="all three records")
    many = json.loads(next(line for line in lines if "many tags" in line))
    streams = loki_query_range(loki_url, f'{{service="{service}", tag_0="v0"}}')
    assert len(streams[0]["stream"]) == 30
    assert len(many["tags"]) == 60 - (30 - 4)  # the labels Loki could not take travel in the line
    handler.close()


def test_python_logging_lokis_documented_examples_keep_their_labels(loki_url: str) -> None:
    logging_loki = pytest.importorskip("logging_loki", reason="python-logging-loki is a bench extra")
    stored = {}
    for kind in ("python-logging-loki", "tracklog"):
        app = unique(kind)
        options = {"url": f"{loki_url}/loki/api/v1/push", "tags": {"application": app}, "version": "1"}
        handler = logging_loki.LokiHandler(**options) if kind == "python-logging-loki" else LokiHandler(**options)
        logger = logging.getLogger("my-logger")
        logger.handlers[:] = [handler]
        logger.propagate = False
        logger.error("Something happened", extra={"tags": {"service": "my-service"}})  # the README's example
        logger.warning("plain record")  # no per-record tags
        handler.flush()
        streams = wait_for(lambda app=app: (s := loki_query_range(loki_url, f'{{application="{app}"}}'))
                           and sum(len(x["values"]) for x in s) == 2 and s, what=f"{kind}'s records")
        stored[kind] = sorted(({k: v for k, v in s["stream"].items() if k != "application"} for s in streams),
                              key=lambda labels: labels["severity"])
        handler.close()
    ours, theirs = stored["tracklog"], stored["python-logging-loki"]
    assert len(ours) == len(theirs) == 2
    for mine, original in zip(ours, theirs, strict=True):
        assert {k: mine.get(k) for k in original} == original  # every label they stored, with the same value
    assert ours[0]["service"] == "my-service"
