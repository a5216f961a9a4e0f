"""Redaction before anything leaves the process: patterns compiled once, applied to text and to field values."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from exporters.phones import DEFAULT_REGIONS, PhoneFinder
from exporters.secrets import DEFAULT_FIELD_NAMES, DEFAULT_PATTERNS, OTHER_DETECTORS, is_secret_key

__all__ = [
    "DEFAULT_FIELD_NAMES", "DEFAULT_PATTERNS", "MASK", "OTHER_DETECTORS", "SAFE_FIELDS", "Redactor", "luhn_valid",
    "may_hold_default_secret",
]

MASK = "[REDACTED]"

# Fields whose values tracklog itself produces (enums, templates, ids it made): never scanned, which keeps
# redaction off most of a record. Free text (message, url.path, error.message, user-supplied extras) is scanned.
SAFE_FIELDS = frozenset({
    "timestamp", "level", "log_type", "service", "env", "logger", "event.name", "http.route",
    "http.request.method", "http.response.status_code", "db.system", "db.operation.name", "code.function",
    "code.filepath", "code.lineno", "error.type", "auth.outcome", "service.lifecycle", "trace_id", "span_id",
    "request.id", "client.address",
})
_CACHE_LIMIT = 4096

# Something each default detector needs, besides "@", "=" or ":": seven digits in a run (cards, phone numbers)
# or a credential's fixed prefix. Prefixes with an upper-case letter, "_" or "~" are looked for only in values that
# have one of those (one cheap character search first); the five lower-case ones by substring.
_DIGIT_RUN = re.compile(r"\d[\d \u00a0().\-/]{6}")
_MARKED = re.compile(r"[A-Z_~]")
_PREFIXES = re.compile(
    r"eyJ|-----BEGIN|A(?:KIA|SIA|3T|BIA|CCA|GPA|IDA|IPA|NPA|NVA|ROA|PKA)|AIza|\dQ~|gh[pousr]_|github_pat_|_live_|"
    r"_test_|whsec_|Bearer|BEARER"
)


def may_hold_default_secret(value: str) -> bool:
    """False when no default detector can match ``value``: substring tests and two short searches, far cheaper
    than the full scan.

    Each default detector needs ``@`` (e-mail, URL credentials), ``=`` or ``:`` (secret pairs, URLs), seven digits in
    a run of digits and separators (cards, phone numbers), or a credential's fixed prefix (``AKIA``, ``xoxb-``, ...).
    """
    return (
        "@" in value or "=" in value or ":" in value
        or _DIGIT_RUN.search(value) is not None
        or (_MARKED.search(value) is not None and _PREFIXES.search(value) is not None)
        or "bearer" in value or "xox" in value or "xapp-" in value or "ya29." in value or "glpat-" in value
        or "hooks.slack" in value
    )


# Values of these fields are masked even when they are numbers (a card's CVV, a one-time password).
_NUMERIC_SECRETS = frozenset({"cvv", "cvc", "pan", "otp", "pin", "card", "card_number"})


def _card_length_fits(digits: str) -> bool:
    """Card networks by length: 13 digits only old Visa (4...), 14 Diners (30/36/38), 15 Amex (34/37); an EAN-13
    barcode or a 13-digit id that passes Luhn by chance is not a card."""
    n = len(digits)
    if n == 13:
        return digits[0] == "4"
    if n == 14:
        return digits[:2] in ("30", "36", "38")
    if n == 15:
        return digits[:2] in ("34", "37")
    return True


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
    """Masks secrets and personal data in strings and, recursively, in event fields. Never raises: a value it
    cannot redact is masked whole (``[REDACTED:error]``).

    Args:
        patterns: name -> regex; defaults to ``DEFAULT_PATTERNS`` (pass a dict to replace, or use ``extra_patterns``).
            A group named ``value`` (or ``<name>_value``) limits the mask to that group.
        field_names: keys whose values are masked whole, matched case-insensitively on the last dotted part;
            besides these, every key name that looks like a secret (``x-api-key``, ``clientSecret``, ``db.passwd``)
            unless ``"secret_field"`` is disabled.
        extra_patterns: added to the defaults.
        disable: detectors to leave out: names of ``DEFAULT_PATTERNS``, ``"phone"`` or ``"secret_field"``.
        phone_regions: countries whose national phone formats are recognised (``+`` numbers of every country are).
        allow: regexes of values never masked (a match that one of them matches whole is kept).
        extra_field_names: added to ``field_names``.
    """

    def __init__(
        self,
        patterns: dict[str, str] | None = None,
        field_names: Iterable[str] = DEFAULT_FIELD_NAMES,
        extra_patterns: dict[str, str] | None = None,
        disable: Iterable[str] = (),
        safe_fields: Iterable[str] = SAFE_FIELDS,
        phone_regions: Iterable[str] = DEFAULT_REGIONS,
        allow: Iterable[str] = (),
        extra_field_names: Iterable[str] = (),
    ) -> None:
        disabled = set(disable)
        chosen = dict(DEFAULT_PATTERNS if patterns is None else patterns)
        chosen.update(extra_patterns or {})
        unknown = disabled - set(chosen) - set(DEFAULT_PATTERNS) - set(OTHER_DETECTORS)
        if unknown:
            raise ValueError(f"disable: no detector named {', '.join(sorted(unknown))}")
        for name in disabled:
            chosen.pop(name, None)
        self.pattern_names = tuple(chosen)
        alternatives = []
        self._value_groups: dict[str, str] = {}
        for name, regex in chosen.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"pattern name {name!r}: letters, digits and _ only")
            try:
                re.compile(regex)  # fail at construction, naming the pattern
            except re.error as exc:
                raise ValueError(f"pattern {name!r}: {exc}") from None
            body, flags = _split_inline_flags(regex.replace("(?P<value>", f"(?P<{name}_value>"))
            if f"(?P<{name}_value>" in body:
                self._value_groups[name] = f"{name}_value"
            alternatives.append(f"(?P<{name}>{f'(?{flags}:' if flags else '(?:'}{body}))")
        self._regex = re.compile("|".join(alternatives)) if alternatives else None
        self.phones = PhoneFinder(phone_regions) if "phone" not in disabled else None
        allowed = [f"(?:{a})" for a in allow]
        for a in allowed:
            re.compile(a)
        self._allow = re.compile("|".join(allowed)) if allowed else None
        self.field_names = frozenset(n.lower() for n in (*field_names, *extra_field_names))
        self.secret_field_names = "secret_field" not in disabled
        self.safe_fields = frozenset(safe_fields)
        self._cache: dict[str, str] = {}
        # The pre-check knows only the default patterns; any other pattern means every value is scanned.
        self._precheck = all(DEFAULT_PATTERNS.get(name) == regex for name, regex in chosen.items())
        self._scans = self._regex is not None or self.phones is not None
        self._key_kinds: dict[object, int] = {}
        self._plans: dict[tuple[object, ...], tuple[tuple[object, int], ...]] = {}

    def text(self, value: str) -> str:
        """``value`` with every detected secret masked."""
        if not self._scans or not value:
            return value
        cached = self._cache.get(value)
        if cached is not None:
            return cached
        if self._precheck and not may_hold_default_secret(value):
            return value
        try:
            result = self._regex.sub(self._replace, value) if self._regex is not None else value
            if self.phones is not None:
                result = self._mask_phones(result)
        except Exception:  # a pathological value (or a user pattern) must never reach the caller as an exception
            return ERROR_MASK
        if len(value) <= 256:  # repeated short values (addresses, paths, messages) are common; remember them
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[value] = result
        return result

    def _mask_phones(self, text: str) -> str:
        spans = self.phones.spans(text) if self.phones is not None else []
        if not spans:
            return text
        out, last = [], 0
        for start, end in spans:
            if self._allow is not None and self._allow.fullmatch(text, start, end):
                continue
            out.append(text[last:start])
            out.append("[REDACTED:phone]")
            last = end
        out.append(text[last:])
        return "".join(out)

    def _replace(self, match: re.Match[str]) -> str:
        kind = match.lastgroup or ""
        found = match.group(0)
        if self._allow is not None and self._allow.fullmatch(found):
            return found
        if kind == "card":
            digits = re.sub(r"[ -]", "", found)
            return "[REDACTED:card]" if _card_length_fits(digits) and luhn_valid(digits) else found
        if kind == "secret_pair":
            value = match.group("secret_pair_value")
            if self._allow is not None and self._allow.fullmatch(value):
                return found
            start = match.start("secret_pair_value") - match.start()
            end = match.end("secret_pair_value") - match.start()
            quote = value[:1] if value[:1] in "\"'" and len(value) > 1 and value[-1] == value[0] else ""
            return found[:start] + quote + MASK + quote + found[end:]
        group = self._value_groups.get(kind)
        if group is not None and match.group(group) is not None:
            start, end = match.start(group) - match.start(), match.end(group) - match.start()
            return found[:start] + f"[REDACTED:{kind}]" + found[end:]
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
            try:
                out[key] = self._field(self._kind(key, depth), val, depth)
            except Exception:  # an odd key or value: masked, never raised
                out[key] = ERROR_MASK
        return out

    def _field(self, kind: int, val: Any, depth: int) -> Any:
        if kind == _KEEP or (kind != _MASK and (val is None or isinstance(val, int | float))):
            return val
        if kind in (_MASK, _MASK_TEXT):
            return MASK if val not in (None, "") else val
        return self.value(val, depth)

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
            try:
                if kind == _SCAN and isinstance(val, str):
                    event[key] = self.text(val)
                elif kind != _SCAN or not isinstance(val, int | float | None):
                    event[key] = self._field(kind, val, 0)
            except Exception:
                event[key] = ERROR_MASK
        return event

    def _kind(self, key: object, depth: int) -> int:
        """How to treat ``key``'s value; decisions are cached (records repeat their keys)."""
        cache_key = (key, depth == 0)
        kind = self._key_kinds.get(cache_key)
        if kind is None:
            kind = self._key_kind(key, depth)
            if len(self._key_kinds) < _CACHE_LIMIT:
                self._key_kinds[cache_key] = kind
        return kind

    def _key_kind(self, key: object, depth: int) -> int:
        if depth == 0 and key in self.safe_fields:
            return _KEEP
        name = key if isinstance(key, str) else str(key)
        last = name.rsplit(".", 1)[-1].lower()
        if last in self.field_names:
            return _MASK if last in _NUMERIC_SECRETS or last in DEFAULT_FIELD_NAMES else _MASK_TEXT
        if self.secret_field_names and is_secret_key(name):
            return _MASK if last in _NUMERIC_SECRETS else _MASK_TEXT
        return _SCAN


_KEEP, _MASK, _SCAN, _MASK_TEXT = 0, 1, 2, 3
ERROR_MASK = "[REDACTED:error]"


def _split_inline_flags(regex: str) -> tuple[str, str]:
    """Move a leading (?i) into a scoped group so patterns can be joined into one regex."""
    match = re.match(r"^\(\?([aiLmsux]+)\)", regex)
    if match:
        return regex[match.end():], match.group(1)
    return regex, ""
