"""What tracklog last applied of each secret, as keyed fingerprints, so a plan can tell a changed secret from an
unchanged one although Grafana never answers secrets (contact points say "[REDACTED]", datasources only list which
secureJsonFields are set).

The fingerprints are HMAC-SHA256 under a random key kept beside them (file mode 0600), so the file holds nothing a
secret can be read or guessed from without that key. One file per Grafana URL under the state directory; a machine
without the file (a fresh CI runner) sees every secret as "set in Grafana, not applied from here" and applies it
once, after which plans are empty again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from exporters.files import write_atomic

UNKNOWN = "<secret set in Grafana, not applied from here>"
MISSING = "<secret not set>"


class AppliedSecrets:
    def __init__(self, state_dir: Path, grafana_url: str) -> None:
        self.dir = state_dir / "grafana"
        name = hashlib.sha256(grafana_url.rstrip("/").encode()).hexdigest()[:16]
        self.path = self.dir / f"applied-secrets-{name}.json"
        self._key: bytes | None = None
        self._records: dict[str, str] | None = None

    def _load(self) -> dict[str, str]:
        if self._records is None:
            try:
                self._records = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._records = {}
        return self._records

    def _key_bytes(self) -> bytes:
        if self._key is None:
            key_path = self.dir / "applied-secrets.key"
            try:
                self._key = bytes.fromhex(key_path.read_text(encoding="utf-8").strip())
            except (OSError, ValueError):
                self._key = secrets.token_bytes(32)
                write_atomic(key_path, self._key.hex(), mode=0o600)
        return self._key

    def fingerprint(self, value: str) -> str:
        """How a secret shows in plans: a keyed fingerprint that changes when the value changes."""
        digest = hmac.new(self._key_bytes(), value.encode(), hashlib.sha256).hexdigest()[:12]
        return f"<secret {digest}>"

    def recorded(self, where: str) -> str:
        """The fingerprint of what was last applied at ``where`` (kind/uid/field), or UNKNOWN."""
        return self._load().get(where, UNKNOWN)

    def record(self, values: dict[str, str]) -> None:
        """Remember what was just applied (where -> value); values are stored only as fingerprints."""
        if not values:
            return
        records = self._load()
        records.update({where: self.fingerprint(value) for where, value in values.items()})
        write_atomic(self.path, json.dumps(records, indent=1, sort_keys=True), mode=0o600)
        os.chmod(self.path, 0o600)
