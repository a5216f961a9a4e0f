"""Parse a LogQL stream selector ({a="x", b=~"y.*"}) and match label sets against it, as Loki would."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|`[^`]*`)\s*(,|$)')


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        test: Callable[[], bool] = {
            "=": lambda: actual == self.value,
            "!=": lambda: actual != self.value,
            "=~": lambda: re.fullmatch(self.value, actual) is not None,
            "!~": lambda: re.fullmatch(self.value, actual) is None,
        }[self.op]
        return test()


@dataclass(frozen=True)
class Selector:
    matchers: tuple[Matcher, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)


def parse(text: str) -> Selector:
    """Raises ValueError naming the selector and what is wrong with it."""
    body = text.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise ValueError(f"stream selector {text!r} must look like {{service=\"api\", level=~\"warn|error\"}}")
    inner = body[1:-1].strip()
    matchers: list[Matcher] = []
    position = 0
    while position < len(inner):
        found = _MATCHER.match(inner, position)
        if not found:
            raise ValueError(f"stream selector {text!r}: cannot read a matcher at {inner[position:]!r}")
        name, op, raw, _ = found.groups()
        value = raw[1:-1] if raw.startswith("`") else json.loads(raw)
        if op in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"stream selector {text!r}: bad regular expression {value!r} ({exc})") from None
        matchers.append(Matcher(name, op, value))
        position = found.end()
    if not matchers:
        raise ValueError(f"stream selector {text!r} has no matchers")
    return Selector(tuple(matchers))
