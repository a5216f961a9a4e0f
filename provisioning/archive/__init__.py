"""Archive Loki streams to an S3 bucket per stream and UTC day, verify the archive, restore it into Loki."""

from __future__ import annotations

from provisioning.archive.export import Archiver, ArchiveReport, ArchiveRequest, archive
from provisioning.archive.lock import LockHeld, LockLost, S3Lock
from provisioning.archive.restore import Restorer, RestoreReport, restore
from provisioning.archive.store import Store, StoreError
from provisioning.archive.verify import VerifyReport, verify

__all__ = [
    "ArchiveReport", "ArchiveRequest", "Archiver", "LockHeld", "LockLost", "RestoreReport", "Restorer", "S3Lock",
    "Store", "StoreError", "VerifyReport", "archive", "restore", "verify",
]
