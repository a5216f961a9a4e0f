"""Redaction before anything leaves the process: patterns compiled once, applied to text and to field values."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "[REDACTED]"

# Each pattern is one named alternative of a single compiled regex, so a message is scanned once.
DEFAULT_PATTERNS: dict[str, str] = {
    # user:password@ in any URL
    "url_credentials": r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)",
    # JSON Web Tokens: three base64url parts, the first two starting with eyJ ({")
    "jwt": r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
    "bearer": r"(?i)(?<=bearer )[A-Za-z0-9._~+/=-]{8,}",
    # password=..., api_key: ..., token=... in query strings, logfmt and prose
    "secret_pair": (
        r"(?i)(?:(?<=[?&;\s,{\"'])|^)(?:pass(?:word|wd)?|pwd|secret|api[_-]?key|apikey|access[_-]?token|"
        r"refresh[_-]?token|token|auth|client[_-]?secret)[\"']?\s*[=:]\s*[\"']?(?P<secret_value>[^\s&\"',;}]+)"
    ),
    "email": r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b",
    # 13-19 digits, optionally grouped by spaces or dashes; only masked when the Luhn check passes
    "card": r"\b\d(?:[ -]?\d){12,18}\b",
    # E.164 (+4915112345678) or grouped national numbers ((030) 1234-5678, 555-123-4567); never dotted quads,
    # so IP addresses (185.220.101.34) and version numbers stay readable
    "phone": r"(?<![\d.])(?:\+\d{1,3}[ -]?)?(?:\(\d{2,4}\)[ -]?|\b\d{3}[ -])\d{3,4}[ -]\d{3,4}\b(?![.-]\d)"
             r"|\+\d{8,15}\b",
}

# Fields whose values tracklog itself produces (enums, templates, ids it made): never scanned, which keeps
# redaction off most of a record. Free text (message, url.path, error.message, user-supplied extras) is scanned.
SAFE_FIELDS = frozenset({
    "timestamp", "level", "log_type", "service", "env", "logger", "event.name", "http.route",
    "http.request.method", "http.response.status_code", "db.system", "db.operation.name", "code.function",
    "code.filepath", "code.lineno", "error.type", "auth.outcome", "service.lifecycle", "trace_id", "span_id",
    "request.id", "client.address",
})
_CACHE_LIMIT = 4096

# Card and phone numbers need six digits in one run of digits, spaces and dashes.
_SIX_DIGITS = re.compile(r"\d[\d -]{5}")


def may_hold_default_secret(value: str) -> bool:
    """False when no default pattern can match ``value``: a few substring tests, far cheaper than the full scan.

    Each default pattern needs one of these to match: ``@`` (e-mail, URL credentials), ``=`` or ``:`` (secret
    pairs, URLs), ``eyJ`` (JWT), ``bearer `` in any case, or six digits in a run (cards, phone numbers).
    """
    return (
        "@" in value or "=" in value or ":" in value or "eyJ" in value
        or (("r " in value or "R " in value) and "bearer " in value.lower())
        or _SIX_DIGITS.search(value) is not None
    )

DEFAULT_FIELD_NAMES = (
    "password", "passwd", "pwd", "secret", "token", "access_token", "refresh_token", "api_key", "apikey",
    "authorization", "cookie", "set-cookie", "card", "card_number", "cvv", "cvc", "pan", "client_secret",
)


def luhn_valid(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = ord(ch) - 48
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


class Redactor:
    """Masks secrets and personal data in strings and, recursively, in event fields.

    Args:
        patterns: name -> regex; defaults to ``DEFAULT_PATTERNS`` (pass a dict to replace, or use ``extra_patterns``).
        field_names: keys whose values are masked whole, matched case-insensitively on the last dotted part.
        extra_patterns: added to the defaults.
        disable: names of default patterns to leave out (e.g. ``["phone"]``).
    """

    def __init__(
        self,
        patterns: dict[str, str] | None = None,
        field_names: Iterable[str] = DEFAULT_FIELD_NAMES,
        extra_patterns: dict[str, str] | None = None,
        disable: Iterable[str] = (),
        safe_fields: Iterable[str] = SAFE_FIELDS,
    ) -> None:
        chosen = dict(DEFAULT_PATTERNS if patterns is None else patterns)
        chosen.update(extra_patterns or {})
        for name in disable:
            chosen.pop(name, None)
        self.pattern_names = tuple(chosen)
        alternatives = []
        for name, regex in chosen.items():
            re.compile(regex)  # fail at construction, naming nothing vague
            body, flags = _split_inline_flags(regex)
            alternatives.append(f"(?P<{name}>{f'(?{flags}:' if flags else '(?:'}{body}))")
        self._regex = re.compile("|".join(alternatives)) if alternatives else None
        self.field_names = frozenset(n.lower() for n in field_names)
        self.safe_fields = frozenset(safe_fields)
        self._cache: dict[str, str] = {}
        # The pre-check knows only the default patterns; any other pattern means every value is scanned.
        self._precheck = all(DEFAULT_PATTERNS.get(name) == regex for name, regex in chosen.items())
        self._key_kinds: dict[object, int] = {}
        self._plans: dict[tuple[object, ...], tuple[tuple[object, int], ...]] = {}

    def text(self, value: str) -> str:
        if self._regex is None or not value:
            return value
        cached = self._cache.get(value)
        if cached is not None:
            return cached
        if self._precheck and not may_hold_default_secret(value):
            return value
        result = self._regex.sub(self._replace, value)
        if len(value) <= 256:  # repeated short values (addresses, paths, messages) are common; remember them
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[value] = result
        return result

    def _replace(self, match: re.Match[str]) -> str:
        kind = match.lastgroup
        found = match.group(0)
        if kind == "card":
            digits = re.sub(r"[ -]", "", found)
            return "[REDACTED:card]" if luhn_valid(digits) else found
        if kind == "secret_pair":
            start = match.start("secret_value") - match.start()
            return found[:start] + MASK
        return f"[REDACTED:{kind}]"

    def value(self, value: Any, depth: int = 0) -> Any:
        """Redact a field value: strings by pattern, containers recursively (to a bounded depth)."""
        if isinstance(value, str):
            return self.text(value)
        if depth > 8:
            return value
        if isinstance(value, dict):
            return self.fields(value, depth + 1)
        if isinstance(value, list | tuple):
            return [self.value(v, depth + 1) for v in value]
        return value

    def fields(self, event: dict[str, Any], depth: int = 0) -> dict[str, Any]:
        """A redacted copy of ``event``; nested containers are copied too, never changed in place."""
        out = {}
        for key, val in event.items():
            kind = self._kind(key, depth)
            if kind == _KEEP or (kind == _SCAN and isinstance(val, int | float)):
                out[key] = val
            elif kind == _MASK and val not in (None, ""):
                out[key] = MASK
            else:
                out[key] = self.value(val, depth)
        return out

    def redact_in_place(self, event: dict[str, Any]) -> dict[str, Any]:
        """Redact a top-level event the caller built and owns (the formatter's): no copy of its own keys."""
        shape = tuple(event)  # records from one call site repeat their keys: plan once which of them to look at
        plan = self._plans.get(shape)
        if plan is None:
            plan = tuple((key, self._kind(key, 0)) for key in event if key not in self.safe_fields)
            if len(self._plans) >= _CACHE_LIMIT:
                self._plans.clear()
            self._plans[shape] = plan
        for key, kind in plan:
            val = event[key]
            if kind == _MASK:
                if val not in (None, ""):
                    event[key] = MASK
            elif isinstance(val, str):
                event[key] = self.text(val)
            elif not isinstance(val, int | float | None):
                event[key] = self.value(val)
        return event

    def _kind(self, key: object, depth: int) -> int:
        """How to treat ``key``'s value; top-level decisions are cached (records repeat their keys)."""
        if depth:
            return self._key_kind(key, depth)
        kind = self._key_kinds.get(key)
        if kind is None:
            kind = self._key_kind(key, 0)
            if len(self._key_kinds) < _CACHE_LIMIT:
                self._key_kinds[key] = kind
        return kind

    def _key_kind(self, key: object, depth: int) -> int:
        if depth == 0 and key in self.safe_fields:
            return _KEEP
        return _MASK if str(key).rsplit(".", 1)[-1].lower() in self.field_names else _SCAN


_KEEP, _MASK, _SCAN = 0, 1, 2


def _split_inline_flags(regex: str) -> tuple[str, str]:
    """Move a leading (?i) into a scoped group so patterns can be joined into one regex."""
    match = re.match(r"^\(\?([aiLmsux]+)\)", regex)
    if match:
        return regex[match.end():], match.group(1)
    return regex, ""
