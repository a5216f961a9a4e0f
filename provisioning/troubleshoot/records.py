"""One Loki entry read as a tracklog record: its labels, its JSON fields, and the few fields every command needs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from provisioning.lokiquery import Entry

HTTP_DURATION = "http.server.request.duration"
DB_DURATION = "db.query.duration"


@dataclass(frozen=True, slots=True)
class Record:
    ts_ns: int
    labels: dict[str, str]
    fields: dict[str, Any]
    line: str

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    @property
    def service(self) -> str:
        return self.labels.get("service") or str(self.fields.get("service") or "-")

    @property
    def level(self) -> str:
        return self.labels.get("level") or str(self.fields.get("level") or "-")

    @property
    def log_type(self) -> str:
        return self.labels.get("log_type") or str(self.fields.get("log_type") or "-")

    @property
    def message(self) -> str:
        return str(self.fields.get("message", self.line))

    @property
    def trace_id(self) -> str:
        return str(self.fields.get("trace_id") or "")

    @property
    def duration_s(self) -> float | None:
        """The request or query duration the record carries, in seconds."""
        for key in (HTTP_DURATION, DB_DURATION):
            value = self.fields.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
        return None

    @property
    def is_error(self) -> bool:
        status = self.fields.get("http.response.status_code")
        return (self.level in ("error", "critical") or "error.type" in self.fields
                or (isinstance(status, int) and status >= 500))


def parse(entry: Entry) -> Record:
    """Read one entry; a line that is not a JSON object becomes a record whose message is the line."""
    try:
        fields = json.loads(entry.line)
    except ValueError:
        fields = None
    if not isinstance(fields, dict):
        fields = {"message": entry.line}
    return Record(entry.timestamp_ns, entry.labels, fields, entry.line)


def short(value: str, size: int = 8) -> str:
    """The first ``size`` characters of an id, as shown in tables."""
    return value[:size]
