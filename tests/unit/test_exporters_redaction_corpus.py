"""The redaction corpus (tests/unit/data/redaction, written by make_corpus.py): no leak, no false positive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exporters import JsonFormatter
from exporters.redact import Redactor

DATA = Path(__file__).parent / "data" / "redaction"


def sensitive() -> list[tuple[str, str, str]]:
    rows = []
    for line in (DATA / "sensitive.tsv").read_text(encoding="utf-8").splitlines():
        kind, text, secret = line.split("\t")
        rows.append((kind, text.replace("\\n", "\n").replace("\\\\", "\\"), secret))
    return rows


def clean() -> list[str]:
    return (DATA / "clean.txt").read_text(encoding="utf-8").splitlines()


def jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines()]


def test_the_corpus_is_big_enough_to_mean_something() -> None:
    assert len(sensitive()) >= 500
    assert len(clean()) >= 200
    assert len(jsonl("fields.jsonl")) >= 80


def test_no_sensitive_string_survives_redaction() -> None:
    r = Redactor(phone_regions=["DE", "AT", "CH", "NL", "FR", "US"])
    leaks = [(kind, text, r.text(text)) for kind, text, secret in sensitive() if secret in r.text(text)]
    assert leaks == [], f"{len(leaks)} leak(s), first: {leaks[:5]}"


def test_no_clean_string_is_changed() -> None:
    r = Redactor(phone_regions=["DE", "AT", "CH", "NL", "FR", "US"])
    changed = [(text, r.text(text)) for text in clean() if r.text(text) != text]
    assert changed == [], f"{len(changed)} false positive(s): {changed[:5]}"


def test_secret_fields_are_masked_and_others_kept_through_the_formatter() -> None:
    import logging

    formatter = JsonFormatter(service="corpus")
    for row in jsonl("fields.jsonl"):
        record = logging.LogRecord("corpus", logging.INFO, __file__, 1, "m", None, None)
        record.__dict__[row["field"]] = row["value"]
        line = formatter.format(record)
        assert row["secret"] not in line, row
    for row in jsonl("clean_fields.jsonl"):
        record = logging.LogRecord("corpus", logging.INFO, __file__, 1, "m", None, None)
        record.__dict__[row["field"]] = row["value"]
        assert json.loads(formatter.format(record))[row["field"]] == row["value"], row


@pytest.mark.parametrize("text", ["call 030 12345678", "key AKIAIOSFODNN7EXAMPLE", "pwd=abc123xyz"])
def test_every_sensitive_kind_is_caught_by_the_pre_check(text: str) -> None:
    from exporters.redact import may_hold_default_secret

    assert may_hold_default_secret(text)
