"""Files written whole or not at all: a temporary file beside the target, then a rename over it.

The one helper for it, in the library so that exporters (spool, agent positions) and the CLI share it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, text: str | bytes, mode: int | None = None, durable: bool = False) -> None:
    """Write ``text`` to ``path`` atomically (a reader sees the old file or the new one, never a part).

    Args:
        path: the target; its directory is created if missing.
        text: str (written as UTF-8) or bytes.
        mode: permission bits for the new file (e.g. 0o600 for fingerprints and keys), else the default umask's.
        durable: fsync the data before the rename, so a crash after it returns cannot lose what was written
            (the spool and the agent's positions need that; rendered files do not).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8") if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
