"""A push Loki answers 400: the refused entries are isolated and counted by Loki's reason, the rest delivered."""

from __future__ import annotations

import logging

import pytest

from exporters.loki import Backoff, LokiClient, Response, refusal
from exporters.loki.encode import Encoded
from exporters.loki.labels import LOKI_2_2, LabelLimits, fit, label_set
from exporters.testing import FakeTransport, decode

LABELS = label_set({"service": "api", "log_type": "application", "level": "info"})


class PoisonLoki(FakeTransport):
    """Refuses a whole push (400, no entry-level reason) when any line in it holds "poison"."""

    def send(self, batch: Encoded) -> Response:
        if any("poison" in line for _, _, line in decode(batch)):
            with self.lock:
                self.requests.append(batch)
            return Response(400, "loghttp: cannot parse push body: invalid character")
        return super().send(batch)


def test_one_bad_entry_among_many_is_isolated_and_the_rest_arrive() -> None:
    fake = PoisonLoki()
    client = LokiClient(transport=fake, batch_max_wait=10, backoff=Backoff(0.01, 0.05))
    lines = [f"line {i}" if i not in (37, 90) else f"poison {i}" for i in range(128)]
    for i, line in enumerate(lines):
        client.push(LABELS, 1_700_000_000_000_000_000 + i, line)
    assert client.flush(5)
    assert fake.lines() == [line for line in lines if not line.startswith("poison")]
    assert client.stats.refused == {"bad_request": 2}
    assert client.stats.dropped["rejected"] == 2
    assert client.stats.sent == 126
    assert len(fake.requests) < 40  # bisection: about 2 * log2(128) requests per bad entry, not one per entry
    client.close()


def test_an_entry_level_reason_means_loki_kept_the_rest_so_nothing_is_sent_twice() -> None:
    answer = ("entry for stream '{service=api}' has timestamp too new: 2030-01-01 00:00:00 +0000 UTC")
    fake = FakeTransport([Response(400, answer)])
    client = LokiClient(transport=fake, batch_max_wait=10)
    for i in range(10):
        client.push(LABELS, 1_700_000_000_000_000_000 + i, f"line {i}")
    assert client.flush(5)
    assert len(fake.requests) == 1
    assert client.stats.refused == {"too_far_in_future": 1}
    assert client.stats.sent == 9
    client.close()


def test_the_refusal_is_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    fake = PoisonLoki()
    client = LokiClient(transport=fake, batch_max_wait=0.01)
    with caplog.at_level(logging.WARNING, logger="tracklog.internal"):
        for i in range(5):
            client.push(LABELS, 1_700_000_000_000_000_000 + i, f"poison {i}")
            assert client.flush(5)
    assert client.stats.refused == {"bad_request": 5}
    assert len([r for r in caplog.records if "refused" in r.getMessage()]) == 1
    client.close()


@pytest.mark.parametrize(("answer", "reason", "count"), [
    ("Max entry size '262144' bytes exceeded for stream '{a=b}' while adding an entry with length '300000' bytes",
     "line_too_long", 1),
    ("entry for stream '{a=b}' has timestamp too old: 2020-01-01", "greater_than_max_sample_age", 1),
    ("entry for stream '{a=b}' has 31 label names; limit 30", "max_label_names_per_series", 1),
    ("stream '{a=b}' has label value too long: 'xxx'", "label_value_too_long", 1),
    ("stream '{a=b}' has duplicate label name: 'a'", "duplicate_label_names", 1),
    ("entry with timestamp 2026-11-27 ignored, reason: 'entry out of order' for stream: {a=b},\\n"
     "total ignored: 3 out of 10", "out_of_order", 3),
])
def test_lokis_answers_are_read_as_its_reasons(answer: str, reason: str, count: int) -> None:
    assert refusal.reason(answer) == reason
    assert refusal.kept_the_rest(answer)
    assert refusal.refused_count(answer.replace("\\n", "\n"), 10) == {reason: count}


def test_labels_are_fitted_to_lokis_limits_and_the_rest_is_returned_for_the_line() -> None:
    values = [("service", "api"), ("env", "prod"), *((f"tag{i}", str(i)) for i in range(40)), ("a.b", "1"),
              ("a_b", "2"), ("__name__", "x"), ("long", "v" * 3000), ("x" * 2000, "y"), ("empty", ""),
              ("odd", "X\U001087ae"), ("nl", "a\nb")]
    labels, rest = fit(values, LOKI_2_2)
    assert len(labels) == 30
    assert dict(labels)["service"] == "api"  # earlier names are preferred
    assert {"tag28", "tag39", "a.b", "a_b", "__name__", "long", "x" * 2000, "odd", "nl"} <= set(rest)
    assert "empty" not in rest
    labels, rest = fit([("a.b", "1"), ("a_b", "2")], LabelLimits())
    assert labels == (("a_b", "1"),)
    assert rest == {"a_b": "2"}
