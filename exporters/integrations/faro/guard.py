"""What the collector refuses before it maps anything: oversized bodies, sessions over their rate, retried batches."""

from __future__ import annotations

import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable


class TooLarge(Exception):
    """The body (or what it decompresses to) is over the collector's limit."""


class BadEncoding(Exception):
    """A ``Content-Encoding`` the collector does not read, or a gzip body that is not gzip."""


def decode_body(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The request body as bytes of JSON: gunzipped when the SDK compressed it (``requestCompression``), never
    past ``limit`` bytes either way (a small gzip body can expand to gigabytes)."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding != "gzip":
        raise BadEncoding(f"Content-Encoding {encoding!r} is not supported (gzip or none)")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BadEncoding(f"the gzip body does not decompress: {exc}") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise TooLarge(f"the body decompresses to more than {limit} bytes")
    return data


class RateLimiter:
    """A token bucket per key (the Faro session): ``rate`` payloads per second, bursts of ``burst``.

    At most ``max_keys`` buckets are held; the least recently used is forgotten first (it starts full again).
    """

    def __init__(self, rate: float, burst: int, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got rate={rate}, burst={burst}")
        self.rate, self.burst, self.max_keys, self.clock = rate, burst, max_keys, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0.0 when ``key`` may send now (one token taken), else the seconds until it may."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens - 1.0 if wait == 0.0 else tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        return wait


class RecentKeys:
    """The last ``size`` ``Idempotency-Key`` values seen: the SDK sends a new one per batch and the same one on a
    retry, so a batch that already arrived (its 202 lost on the way back) is not logged twice."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, key: str) -> bool:
        """Whether ``key`` was seen before; remembers it either way."""
        with self._lock:
            if key in self._keys:
                self._keys.move_to_end(key)
                return True
            self._keys[key] = None
            if len(self._keys) > self.size:
                self._keys.popitem(last=False)
        return False

    def forget(self, key: str) -> None:
        """Forget ``key`` (its batch was refused after all, so a retry must be taken)."""
        with self._lock:
            self._keys.pop(key, None)
