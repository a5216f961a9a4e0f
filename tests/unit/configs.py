"""tracklog.yaml with one edit, for tests of what a user's change does."""

from __future__ import annotations

import re
from pathlib import Path

from provisioning import config

ROOT = Path(__file__).resolve().parents[2]


def config_with(tmp_path: Path, pattern: str, replacement: str) -> config.Config:
    """The shipped tracklog.yaml with the first match of ``pattern`` (multiline) replaced, loaded from tmp_path."""
    text, n = re.subn(pattern, replacement, (ROOT / "tracklog.yaml").read_text(encoding="utf-8"), count=1,
                      flags=re.MULTILINE)
    assert n == 1, pattern
    path = tmp_path / "tracklog.yaml"
    path.write_text(text, encoding="utf-8")
    return config.load(path)
