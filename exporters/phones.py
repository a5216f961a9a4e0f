"""Phone numbers in free text: a cheap regex finds digit runs that look like one, libphonenumber decides.

``phonenumbers`` (Google's libphonenumber, ported) costs tens of microseconds a call, so it only ever sees
candidates: runs of 7 to 15 digits, optionally grouped by spaces, dots, dashes, slashes or parentheses, that
start with ``+`` or ``00`` (international, any country), or with the trunk prefix ``0`` of the platform's
countries (``030 12345678``, ``06.12.34.56.78``), or have the North American 3-3-4 shape (``212.555.0147``)
when ``US`` or ``CA`` is one of the regions. Runs glued to letters, ``-``, ``/`` or ``.``-digits (order ids,
paths, decimals, UUIDs), dates, times, IPv4 addresses and long unbroken ids never reach the library.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers

DEFAULT_REGIONS = ("DE", "AT", "CH", "NL", "FR")

# A run of digits and separators that starts and ends with a digit (or "+"/"(" before the first one), not glued to
# a word, a path, a decimal or an id on either side.
CANDIDATE = re.compile(
    r"(?<![\w+/\\.#@-])"
    r"(?:\+|\(\+?)?\d(?:[ \u00a0().\-/]{0,2}\d){6,40}"
    r"(?![\w@])(?![.,:/-]\d)"
)
_DIGIT = re.compile(r"\d")
_SEPARATOR_GROUPS = re.compile(r"[ \u00a0().\-/]+")
_NANP = re.compile(r"^\(?[2-9]\d{2}\)?[ .\-\u00a0]?[2-9]\d{2}[ .\-\u00a0]\d{4}$")
_DATE = re.compile(r"^(?:\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}[./-]\d{1,2}[./-]\d{1,2})(?:[ T]\d{1,2})?$")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_NANP_REGIONS = frozenset({"US", "CA"})


class PhoneFinder:
    """Finds the spans of phone numbers in text.

    Args:
        regions: ISO 3166 countries whose national formats (with the trunk prefix 0) are recognised; numbers
            written with ``+`` or ``00`` are recognised for every country.
    """

    def __init__(self, regions: Iterable[str] = DEFAULT_REGIONS) -> None:
        self.regions = tuple(dict.fromkeys(r.upper() for r in regions))
        unknown = [r for r in self.regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"phone regions: {', '.join(unknown)} not known to libphonenumber")
        self._trunk_regions = tuple(r for r in self.regions if r not in _NANP_REGIONS)
        self._nanp = next((r for r in self.regions if r in _NANP_REGIONS), None)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of every phone number in ``text``, in order."""
        found: list[tuple[int, int]] = []
        for match in CANDIDATE.finditer(text):
            candidate = match.group(0)
            if self.is_phone(candidate):
                found.append(match.span())
            elif " " in candidate or "\u00a0" in candidate:  # two numbers side by side: "030 1234567, 089 7654321"
                found.extend(self._split(candidate, match.start()))
        return found

    def _split(self, run: str, offset: int) -> list[tuple[int, int]]:
        """Phones among the space-separated groups of a run that is not one phone: longest first, left to right."""
        groups = [(m.start(), m.end()) for m in re.finditer(r"[^ \u00a0]+", run)][:16]
        found, i = [], 0
        while i < len(groups):
            for j in range(min(len(groups), i + 6), i, -1):
                start, end = groups[i][0], groups[j - 1][1]
                piece = run[start:end]
                if _DIGIT.match(piece.lstrip("+(")) and self.is_phone(piece):
                    found.append((offset + start, offset + end))
                    i = j
                    break
            else:
                i += 1
        return found

    def is_phone(self, candidate: str) -> bool:
        """Whether ``candidate`` (a run :data:`CANDIDATE` found) is a valid number of a region we know."""
        digits = "".join(_DIGIT.findall(candidate))
        if not 7 <= len(digits) <= 15 or _DATE.match(candidate) or _IPV4.match(candidate):
            return False
        if "." in candidate:  # dotted: only 06.12.34.56.78 or 212.555.0147, never a decimal or a version
            groups = [g for g in _SEPARATOR_GROUPS.split(candidate.strip("+()")) if g]
            if len(groups) < 3 or any(not 2 <= len(g) <= 4 for g in groups):
                return False
        head = candidate.lstrip("(")
        if head.startswith("+"):
            return _valid("+" + digits, None)
        if digits.startswith("00"):
            return _valid("+" + digits[2:], None)
        if digits.startswith("0") and not digits.startswith("00"):
            return any(_valid(digits, region) for region in self._trunk_regions)
        if self._nanp is not None and _NANP.match(candidate):
            return _valid(digits, self._nanp)
        return False


def _valid(number: str, region: str | None) -> bool:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(parsed)
