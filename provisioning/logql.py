"""LogQL built in one place, for every command: string literals, stream selectors from label filters, and exact
line filters for JSON fields (Loki 2.2's LogQL)."""

from __future__ import annotations

import json
from collections.abc import Sequence

LABELS = ("service", "env", "log_type", "level")
LEVEL_ALIASES = {"warning": "warn", "fatal": "critical", "err": "error"}
_RE2_SPECIAL = set("\\.+*?()|[]{}^$")


def quote(value: str) -> str:
    """A LogQL string literal (Go syntax) holding ``value``."""
    return json.dumps(value, ensure_ascii=False)


def re2_escape(value: str) -> str:
    """Escape the characters RE2 treats specially, and only those (RE2 rejects escaped letters and spaces)."""
    return "".join("\\" + ch if ch in _RE2_SPECIAL else ch for ch in value)


def matcher(label: str, values: Sequence[str]) -> str:
    """``label="v"`` for one value, ``label=~"v1|v2"`` for several."""
    if len(values) == 1:
        return f"{label}={quote(values[0])}"
    return f"{label}=~{quote('|'.join(re2_escape(v) for v in values))}"


def normalize_levels(levels: Sequence[str]) -> list[str]:
    """Map user spellings onto the level label's values (debug, info, warn, error, critical)."""
    return [LEVEL_ALIASES.get(level.lower(), level.lower()) for level in levels]


def selector(**labels: Sequence[str] | None) -> str:
    """A stream selector over the given labels; ``{service=~".+"}`` when none is given (Loki needs one matcher)."""
    parts = [matcher(name, values) for name, values in labels.items() if values]
    return "{" + ", ".join(parts or ['service=~".+"']) + "}"


def contains(text: str) -> str:
    """A line filter keeping lines that contain ``text``."""
    return f"|= {quote(text)}"


def field_equals(key: str, value: str) -> str:
    """Line filters keeping lines whose JSON has ``"key": "value"``: a cheap literal filter, then an exact regexp.

    This avoids ``| json``, which in Loki 2.2 turns every field into a label and so every line into its own stream.
    """
    encoded = json.dumps(value, ensure_ascii=False)[1:-1]
    pattern = f'"{re2_escape(key)}"\\s*:\\s*"{re2_escape(encoded)}"'
    return f"{contains(value)} |~ {quote(pattern)}"


def split_values(values: Sequence[str] | None) -> list[str]:
    """Flatten repeated and comma-separated option values: ``['a,b', 'c']`` -> ``['a', 'b', 'c']``."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]
