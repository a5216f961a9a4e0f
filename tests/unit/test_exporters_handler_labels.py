"""LokiHandler's labels: python-logging-loki's tags keep their meaning, Loki's limits are never exceeded."""

from __future__ import annotations

import json
import logging

from exporters import LokiHandler
from exporters.loki import LokiClient
from exporters.loki.labels import LOKI_2_2
from exporters.testing import FakeTransport
from exporters.truncate import TRUNCATION_MARKER


def handler_with_fake(**kw) -> tuple[LokiHandler, FakeTransport]:
    fake = FakeTransport()
    return LokiHandler(client=LokiClient(transport=fake, batch_max_wait=0.01), **kw), fake


def log_through(handler: LokiHandler, name: str = "my-logger") -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger


def test_a_service_tag_names_the_service_as_python_logging_loki_users_expect() -> None:
    handler, fake = handler_with_fake(url="http://unused", tags={"service": "api"}, version="1")
    log_through(handler).warning("hello")
    handler.client.flush(5)
    labels, _, line = fake.accepted[0]
    assert labels["service"] == "api"
    assert labels["severity"] == "warning"  # python-logging-loki's level label
    assert labels["logger"] == "my-logger"
    assert json.loads(line)["service"] == "api"


def test_per_record_tags_are_labels_and_win() -> None:
    handler, fake = handler_with_fake(tags={"application": "my-app"})
    log_through(handler).error("x", extra={"tags": {"service": "my-service", "region": "eu"}})
    handler.client.flush(5)
    labels = fake.accepted[0][0]
    assert labels["service"] == "my-service"
    assert labels["application"] == "my-app"
    assert labels["region"] == "eu"
    assert "severity" not in labels  # no version given: tracklog's own labels only


def test_tags_beyond_lokis_limits_go_into_the_line() -> None:
    handler, fake = handler_with_fake(service="s", label_limits=LOKI_2_2)
    tags = {f"t{i}": str(i) for i in range(40)} | {"huge": "v" * 5000, "a.b": "1", "a_b": "2"}
    log_through(handler).info("many", extra={"tags": tags})
    handler.client.flush(5)
    labels, _, line = fake.accepted[0]
    assert len(labels) == 30
    body = json.loads(line)
    assert set(labels) | set(body["tags"]) >= {"t0", "t39", "huge", "a_b"}
    assert body["tags"]["huge"] == "v" * 5000


def test_every_shortening_carries_the_marker() -> None:
    handler, fake = handler_with_fake(service="s")
    log = log_through(handler)
    marker = TRUNCATION_MARKER.split("{")[0]
    try:
        raise ValueError("e" * 50_000)
    except ValueError:
        log.exception("m" * 100_000, extra={"blob": "b" * 100_000})
    handler.client.flush(5)
    body = json.loads(fake.accepted[0][2])
    for key in ("message", "error.message", "exception.stacktrace", "blob"):
        assert marker in body[key], key
