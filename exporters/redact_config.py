r"""The ``redaction:`` section of tracklog.yaml, read by exporters itself (services never import provisioning).

```yaml
redaction:
  phone_regions: [DE, AT, CH, NL, FR]   # national formats recognised; default: security.allowed_countries
  disable: [email]                      # detectors to turn off (see exporters.secrets / README)
  patterns:                             # your own detectors: name -> regex; (?P<value>...) masks only that group
    voucher: 'VCH-[A-Z0-9]{10}'
  allow: ['support@example\.com']       # values never masked (a regex the whole match must match)
  field_names: [x-internal-token]       # more field names whose values are masked whole
```
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exporters.redact import Redactor

KEYS = ("phone_regions", "disable", "patterns", "allow", "field_names")


def redactor_options(section: Mapping[str, Any] | None, allowed_countries: list[str] | None = None) -> dict[str, Any]:
    """:class:`Redactor` keyword arguments from a ``redaction:`` mapping; ValueError names what is wrong."""
    section = dict(section or {})
    unknown = sorted(set(section) - set(KEYS))
    if unknown:
        raise ValueError(f"redaction: unknown key(s) {', '.join(unknown)} (known: {', '.join(KEYS)})")
    options: dict[str, Any] = {}
    regions = section.get("phone_regions", allowed_countries)
    if regions:
        options["phone_regions"] = _strings(regions, "phone_regions")
    if section.get("disable"):
        options["disable"] = _strings(section["disable"], "disable")
    patterns = section.get("patterns") or {}
    if not isinstance(patterns, Mapping) or not all(isinstance(v, str) for v in patterns.values()):
        raise ValueError("redaction.patterns: a mapping of name -> regex")
    if patterns:
        options["extra_patterns"] = {str(k): v for k, v in patterns.items()}
    if section.get("allow"):
        options["allow"] = _strings(section["allow"], "allow")
    if section.get("field_names"):
        options["extra_field_names"] = _strings(section["field_names"], "field_names")
    return options


def load_redactor(path: str | os.PathLike[str]) -> Redactor:
    """A :class:`Redactor` configured by the ``redaction:`` section of the tracklog.yaml at ``path``."""
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    countries = (data.get("security") or {}).get("allowed_countries")
    try:
        return Redactor(**redactor_options(data.get("redaction"), countries))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def make_redactor(redaction: Redactor | Mapping[str, Any] | str | os.PathLike[str] | None) -> Redactor:
    """A Redactor from what :func:`exporters.configure` was given: one, a ``redaction:`` mapping, a tracklog.yaml
    path, or None (``$TRACKLOG_CONFIG`` names the tracklog.yaml when set; else the defaults)."""
    if isinstance(redaction, Redactor):
        return redaction
    if isinstance(redaction, Mapping):
        return Redactor(**redactor_options(redaction))
    if redaction is None:
        redaction = os.environ.get("TRACKLOG_CONFIG") or None
    return load_redactor(redaction) if redaction is not None else Redactor()


def _strings(value: Any, key: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"redaction.{key}: a list of strings")
    return list(value)
