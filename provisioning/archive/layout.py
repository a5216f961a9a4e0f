"""Where archive objects, manifests and locks live in the bucket, and how a stream is named and selected."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

from provisioning.archive.days import DaySlice
from provisioning.logql import quote


def canonical_labels(labels: Mapping[str, str]) -> str:
    """One string per label set, independent of order: the identity of a stream."""
    return json.dumps(sorted(labels.items()), separators=(",", ":"), ensure_ascii=False)


def stream_hash(labels: Mapping[str, str]) -> str:
    """16 hex digits of sha256 over the canonical labels: stable across runs and machines."""
    return hashlib.sha256(canonical_labels(labels).encode()).hexdigest()[:16]


def clean_prefix(prefix: str) -> str:
    cleaned = prefix.strip().strip("/")
    if not cleaned or any(part in ("", ".", "..") for part in cleaned.split("/")):
        raise ValueError(f"archive prefix {prefix!r} must be a non-empty path like archive or team/archive")
    return cleaned


def relative_object_key(log_type: str, piece: DaySlice, labels: Mapping[str, str], encrypted: bool) -> str:
    """``<log_type>/<yyyy>/<mm>/<dd>/<stream-hash>.ndjson.gz``; a part of a day adds its range to the name.

    The key depends only on the stream and the slice, so a rerun writes the same key; a whole day's object
    never changes once written, and a partial slice never shares a key with the whole day.
    """
    name = stream_hash(labels)
    if not piece.complete:
        name += f".{piece.start_ns}-{piece.end_ns}"
    suffix = ".ndjson.gz.enc" if encrypted else ".ndjson.gz"
    return f"{log_type}/{piece.day:%Y/%m/%d}/{name}{suffix}"


def object_key(prefix: str, relative_key: str) -> str:
    return f"{prefix}/{relative_key}"


def manifests_prefix(prefix: str) -> str:
    return f"{prefix}/manifests/"


def manifest_key(prefix: str, run_id: str) -> str:
    return f"{manifests_prefix(prefix)}{run_id}.json"


def open_run_key(prefix: str, query_id: str) -> str:
    """Points at the unfinished run of one query, so a rerun resumes it."""
    return f"{prefix}/runs/open/{query_id}.json"


def lock_key(prefix: str, log_type: str) -> str:
    return f"{prefix}/locks/archive-{log_type}.json"


def selector(labels: Mapping[str, str], absent: Iterable[str] = ()) -> str:
    """The stream selector of a label set: ``{a="x", b="y"}``.

    It also matches streams with more labels; ``absent`` names labels other streams have, matched as ``=""``
    (label not set), which keeps those streams out: ``{a="x", b="y", host=""}``.
    """
    matchers = [f"{k}={quote(v)}" for k, v in sorted(labels.items())]
    matchers += [f'{name}=""' for name in sorted(set(absent) - set(labels))]
    return "{" + ", ".join(matchers) + "}"


def base_selector(log_type: str, services: Iterable[str] = ()) -> str:
    """The selector of an archive run: one log type, optionally some services, never restored streams."""
    matchers = [f"log_type={quote(log_type)}", 'restored=""']
    names = sorted(set(services))
    if len(names) == 1:
        matchers.append(f"service={quote(names[0])}")
    elif names:
        matchers.append("service=~" + quote("|".join(_regex_escape(n) for n in names)))
    return "{" + ", ".join(matchers) + "}"


def _regex_escape(text: str) -> str:
    return "".join("\\" + c if c in r".^$*+?()[]{}|\\" else c for c in text)
