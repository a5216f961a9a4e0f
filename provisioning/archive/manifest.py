"""The manifest of one archive run (also its progress record), as plain data with a JSON form."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from provisioning.timerange import iso

FORMAT = 1
RUNNING, COMPLETE, INCOMPLETE = "running", "complete", "incomplete"


@dataclass
class ObjectRecord:
    """One archived stream-day: where it is, what it holds, and the sha256 of its stored bytes."""

    key: str  # relative to the run's prefix
    labels: dict[str, str]
    stream: str
    day: str
    start_ns: int
    end_ns: int
    complete_day: bool
    lines: int
    first_ts: int
    last_ts: int
    sha256: str
    size: int
    written_by: str

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        for name in ("start_ns", "end_ns", "first_ts", "last_ts"):
            doc[name] = str(doc[name])  # ns do not fit a JSON double
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ObjectRecord:
        values = dict(doc)
        for name in ("start_ns", "end_ns", "first_ts", "last_ts", "lines", "size"):
            values[name] = int(values[name])
        return cls(**{k: values[k] for k in cls.__dataclass_fields__})


@dataclass
class Gap:
    """A stream-day where Loki returned another number of lines than count_over_time says exist."""

    labels: dict[str, str]
    day: str
    start_ns: int
    end_ns: int
    expected: int
    got: int

    def describe(self) -> str:
        return (f"{self.day} {json.dumps(self.labels, sort_keys=True)}: Loki returned {self.got} of "
                f"{self.expected} lines ({iso(self.start_ns)} .. {iso(self.end_ns)})")


@dataclass
class Manifest:
    run_id: str
    query_id: str
    log_type: str
    selector: str
    services: list[str]
    start_ns: int
    end_ns: int
    range_args: str
    prefix: str
    bucket: str
    encryption: dict[str, str] | None = None
    status: str = RUNNING
    started_at: str = ""
    updated_at: str = ""
    finished_at: str = ""
    attempts: int = 1
    objects: dict[str, ObjectRecord] = field(default_factory=dict)
    gaps: list[Gap] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def lines(self) -> int:
        return sum(o.lines for o in self.objects.values())

    @property
    def size(self) -> int:
        return sum(o.size for o in self.objects.values())

    def to_json(self) -> bytes:
        doc = {
            "format": FORMAT,
            "run_id": self.run_id,
            "status": self.status,
            "query": {"selector": self.selector, "log_type": self.log_type, "services": self.services,
                      "query_id": self.query_id},
            "range": {"start_ns": str(self.start_ns), "end_ns": str(self.end_ns), "start": iso(self.start_ns),
                      "end": iso(self.end_ns), "arguments": self.range_args},
            "prefix": self.prefix,
            "bucket": self.bucket,
            "encryption": self.encryption,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
            "finished_at": self.finished_at,
            "attempts": self.attempts,
            "totals": {"objects": len(self.objects), "lines": self.lines, "bytes": self.size},
            "objects": [self.objects[k].to_dict() for k in sorted(self.objects)],
            "gaps": [{**asdict(g), "start_ns": str(g.start_ns), "end_ns": str(g.end_ns)} for g in self.gaps],
            "problems": self.problems,
        }
        return json.dumps(doc, indent=1, ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """Raises ValueError when the bytes are not a manifest this version reads."""
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT:
                raise ValueError(f"manifest format {doc.get('format')!r}, expected {FORMAT}")
            query, span = doc["query"], doc["range"]
            objects = [ObjectRecord.from_dict(o) for o in doc["objects"]]
            return cls(
                run_id=doc["run_id"], query_id=query["query_id"], log_type=query["log_type"],
                selector=query["selector"], services=list(query["services"]), start_ns=int(span["start_ns"]),
                end_ns=int(span["end_ns"]), range_args=span.get("arguments", ""), prefix=doc["prefix"],
                bucket=doc["bucket"],
                encryption=doc.get("encryption"), status=doc["status"], started_at=doc.get("started_at", ""),
                updated_at=doc.get("updated_at", ""), finished_at=doc.get("finished_at", ""),
                attempts=int(doc.get("attempts", 1)), objects={o.key: o for o in objects},
                gaps=[Gap(g["labels"], g["day"], int(g["start_ns"]), int(g["end_ns"]), int(g["expected"]),
                          int(g["got"])) for g in doc.get("gaps", [])],
                problems=list(doc.get("problems", [])),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not an archive manifest (missing or malformed {exc})") from exc


def new_run_id(now_ns: int) -> str:
    """Sortable by start time: ``20240501T120000Z-1a2b3c``."""
    stamp = iso(now_ns - now_ns % 1_000_000_000).replace("-", "").replace(":", "")
    return f"{stamp}-{os.urandom(3).hex()}"


def query_id(log_type: str, selector: str, range_args: str, encryption_key_env: str | None) -> str:
    """Names "the same archive job": a rerun with the same arguments resumes its unfinished run.

    The range is named by the arguments as given (``--since 2d``), not by the times they resolve to, so a
    rerun after a crash finishes the crashed run's range instead of starting one that ends at a new "now".
    """
    doc = json.dumps([log_type, selector, range_args, encryption_key_env or ""], separators=(",", ":"))
    return hashlib.sha256(doc.encode()).hexdigest()[:16]
