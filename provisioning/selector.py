"""Parse a LogQL stream selector ({a="x", b=~"y.*"}) and match label sets against it, as Loki would."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# One matcher, label op "value" (or `value`): (label, op, quoted value).
MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|`[^`]*`)\s*')


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


HOW = 'write label="value", label!="value", label=~"regex" or label!~"regex"'


def parse(text: str) -> Selector:
    """Raises ValueError naming the selector and what is wrong with it."""
    body = text.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise ValueError(f"{text!r} is not a stream selector: it must look like "
                         f'{{service="api", level=~"warn|error"}}')
    inner = body[1:-1]
    if not inner.strip():
        raise ValueError(f"{text!r} is not a stream selector: it has no matchers")
    matchers: list[Matcher] = []
    position = 0
    while True:
        found = MATCHER.match(inner, position)
        if not found:
            raise ValueError(f"stream selector {text!r}: cannot read a matcher at {inner[position:].strip()!r}; {HOW}")
        name, op, raw = found.groups()
        try:
            value = raw[1:-1] if raw.startswith("`") else json.loads(raw)
        except ValueError:
            raise ValueError(f"stream selector {text!r}: cannot read the value {raw}") from None
        if op in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"stream selector {text!r}: bad regular expression: {value!r} is not a valid "
                                 f"regular expression ({exc})") from None
        matchers.append(Matcher(name, op, value))
        position = found.end()
        if position == len(inner):
            return Selector(tuple(matchers))
        if inner[position] != ",":
            raise ValueError(f"stream selector {text!r}: expected a comma before {inner[position:]!r}")
        position += 1
