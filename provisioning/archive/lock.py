"""One archive run at a time: a lease object in the bucket, created and renewed with conditional writes.

Create uses If-None-Match: * (only one creator wins); renew, take-over and release use If-Match on the ETag
we hold, so a run that lost its lease cannot clobber the new holder's. A lease that expired, or whose owner
was a process on this host that is gone (a crash, kill -9), is taken over at once.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from provisioning import procs
from provisioning.archive.store import Store, StoreError
from provisioning.errors import TracklogError

log = logging.getLogger("tracklog.archive")


class LockHeld(TracklogError):
    """Another run holds the archive lock; the message names its owner and when its lease ends."""


class LockLost(TracklogError):
    """This run's lease was taken over or could not be renewed; the run stops before writing more."""


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    pid_start: str
    acquired_at: float
    expires_at: float
    purpose: str = ""

    @property
    def owner(self) -> str:
        return f"pid {self.pid} on {self.host}"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Holder:
        try:
            doc = json.loads(data)
            return cls(str(doc["host"]), int(doc["pid"]), str(doc.get("pid_start", "")),
                       float(doc["acquired_at"]), float(doc["expires_at"]), str(doc.get("purpose", "")))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"unreadable lock ({exc})") from exc


def stale_reason(holder: Holder, now: float, host: str,
                 alive: Callable[[int, str], bool] = procs.alive) -> str | None:
    """Why ``holder``'s lease may be taken over, or None while it is valid."""
    if holder.expires_at <= now:
        return f"its lease expired {now - holder.expires_at:.0f}s ago"
    if holder.host == host and not alive(holder.pid, holder.pid_start):
        return f"process {holder.pid} on this host is gone"
    return None


class S3Lock:
    """A lease lock in the bucket, renewed by a background thread every third of its lease.

    Args:
        lease_seconds: how long the lock stays valid without renewal (a crashed run on another host blocks
            new runs for at most this long).
    """

    def __init__(self, store: Store, key: str, lease_seconds: float = 300.0, purpose: str = "",
                 clock: Callable[[], float] = time.time) -> None:
        if lease_seconds < 3:
            raise ValueError("the lock lease must be at least 3 seconds")
        self.store = store
        self.key = key
        self.lease = lease_seconds
        self.purpose = purpose
        self.clock = clock
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.acquired_at = 0.0
        self.lost = ""
        self._etag = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _body(self) -> bytes:
        return Holder(self.host, self.pid, procs.start_time(self.pid), self.acquired_at,
                      self.clock() + self.lease, self.purpose).to_json()

    def acquire(self) -> None:
        """Raises LockHeld when a live run holds the lock."""
        self.acquired_at = self.clock()
        for _ in range(5):
            etag = self.store.put(self.key, self._body(), if_none_match=True)
            if etag:
                return self._start(etag)
            found = self.store.get(self.key)
            if found is None:
                continue  # released in between: try to create it again
            data, current = found
            try:
                holder = Holder.from_json(data)
                reason = stale_reason(holder, self.clock(), self.host)
            except ValueError as exc:
                holder, reason = None, str(exc)
            if reason is None and holder is not None:
                raise LockHeld(
                    f"another archive run holds s3://{self.store.bucket}/{self.key}: {holder.owner} "
                    f"({holder.purpose or 'archive'}), lease valid for {holder.expires_at - self.clock():.0f}s "
                    "more; wait for it to finish, or stop it")
            etag = self.store.put(self.key, self._body(), if_match=current)
            if etag:
                log.warning("took over the archive lock %s: %s", self.key, reason)
                return self._start(etag)
        raise LockHeld(f"could not take s3://{self.store.bucket}/{self.key}: other runs keep changing it")

    def _start(self, etag: str) -> None:
        self._etag = etag
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew_loop, name="tracklog-archive-lease", daemon=True)
        self._thread.start()

    def _renew_loop(self) -> None:
        valid_until = self.clock() + self.lease
        while not self._stop.wait(self.lease / 3):
            try:
                etag = self.store.put(self.key, self._body(), if_match=self._etag)
            except StoreError as exc:
                if self.clock() >= valid_until:
                    self.lost = f"the lease could not be renewed before it expired ({exc})"
                    return
                log.warning("renewing the archive lock failed, will retry: %s", exc)
                continue
            if etag is None:
                self.lost = "another run took the lock over (our lease had expired)"
                return
            self._etag = etag
            valid_until = self.clock() + self.lease

    def check(self) -> None:
        """Raises LockLost when this run no longer holds the lock."""
        if self.lost:
            raise LockLost(f"archive lock s3://{self.store.bucket}/{self.key} lost: {self.lost}; stopped "
                           "before writing more (rerun to resume)")

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._etag and not self.lost:
            self.store.delete(self.key, if_match=self._etag)
        self._etag = ""

    def __enter__(self) -> S3Lock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
