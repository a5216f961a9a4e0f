"""Secrets by reference: resolve the environment variables tracklog.yaml names, and keep their values out of output."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Secrets:
    """Resolved secret values and the variable each came from, for masking output."""

    by_value: dict[str, str] = field(default_factory=dict)

    def resolve(self, name: str, env: Mapping[str, str]) -> str | None:
        value = env.get(name) if name else None
        if value:
            self.by_value[value] = name
        return value or None

    def mask(self, text: str) -> str:
        for value, name in sorted(self.by_value.items(), key=lambda item: -len(item[0])):
            text = text.replace(value, f"<secret ${name}>")
        return text


SECRET_KEYS = frozenset({"url", "api_url", "smtp_auth_password", "password", "auth_password"})


def hide_secrets(body: Any) -> Any:
    """A copy of an Alertmanager config with secret values replaced by a short fingerprint.

    The fingerprint (sha256, 8 hex digits) shows that a secret changed in a diff without showing either value,
    including an old value that no environment variable holds any more.
    """
    if isinstance(body, dict):
        return {k: (_fingerprint(v) if k in SECRET_KEYS and isinstance(v, str) else hide_secrets(v))
                for k, v in body.items()}
    if isinstance(body, list):
        return [hide_secrets(v) for v in body]
    return body


def _fingerprint(value: str) -> str:
    return f"<secret sha256:{hashlib.sha256(value.encode()).hexdigest()[:8]}>"


