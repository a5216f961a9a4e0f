"""Fingerprint an error: its kind, its message as a template (variable parts replaced by placeholders), its function."""

from __future__ import annotations

import re
from typing import NamedTuple

from provisioning.troubleshoot.records import Record

# Applied in order: the more specific shapes first, so that a UUID is not eaten as hex and numbers.
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # Quoted values: the quote opens and closes at a word's edge, so the apostrophe in "can't" is not one.
    (re.compile(r"(?<!\w)'(?:[^'\\]|\\.|'')*'(?!\w)|(?<!\w)\"(?:[^\"\\]|\\.)*\"(?!\w)"), "<str>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<uuid>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<time>"),
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), "<email>"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"\b(?:0x)?(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"), "<hex>"),
    # Ids that mix letters and digits (ord_8fK2pQ1x, user12345): at least 8 characters with a digit and a letter.
    (re.compile(r"\b(?=\w*\d)(?=\w*[A-Za-z])\w{8,}\b"), "<id>"),
    (re.compile(r"(?<![\w<])[-+]?\d+(?:\.\d+)?"), "<num>"),
    (re.compile(r"(?<=[A-Za-z_])\d+(?:\.\d+)?"), "<num>"),
)
_SPACES = re.compile(r"\s+")


class Fingerprint(NamedTuple):
    kind: str
    template: str
    function: str


def template(message: str, max_len: int = 300) -> str:
    """The message with numbers, ids, addresses, times and quoted values replaced by placeholders."""
    text = message.splitlines()[0] if message else ""
    for pattern, placeholder in _RULES:
        text = pattern.sub(placeholder, text)
    return _SPACES.sub(" ", text).strip()[:max_len]


def kind_of(record: Record) -> str:
    """``error.type`` when the record has one; else what the record says went wrong (HTTP 5xx, DB timeout)."""
    error_type = record.get("error.type")
    if error_type:
        return str(error_type)
    status = record.get("http.response.status_code")
    if record.get("event.name") == "http.request" and isinstance(status, int):
        return f"HTTP {status}"
    if record.get("db.query.timeout") is True:
        return "DB timeout"
    return str(record.get("event.name") or "-")


def fingerprint(record: Record) -> Fingerprint:
    """Group key of an error record: kind + message template + code.function."""
    message = record.get("error.message") or record.message
    return Fingerprint(kind_of(record), template(str(message)), str(record.get("code.function") or "-"))
