"""When to try a failed push again: exponential backoff with full jitter, and Retry-After."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class Backoff:
    """Delays of min_seconds * factor**attempt, capped at max_seconds, each drawn uniformly below that."""

    min_seconds: float = 0.25
    max_seconds: float = 10.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_seconds, self.min_seconds * self.factor ** min(attempt, 32))
        return random.uniform(self.min_seconds / 2, max(ceiling, self.min_seconds / 2))  # noqa: S311


def retry_after_seconds(header: str | None, cap: float = 300.0) -> float | None:
    """Parse a Retry-After header (seconds or an HTTP date); None when absent or unreadable."""
    if not header:
        return None
    header = header.strip()
    try:
        return min(cap, max(0.0, float(header)))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return min(cap, max(0.0, when.timestamp() - time.time()))


def is_retryable(status: int) -> bool:
    """429 and 5xx are worth another try; other 4xx will fail the same way again."""
    return status == 429 or status >= 500
