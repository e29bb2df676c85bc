"""Per-token token-bucket rate limiting (in memory; a restart refills every bucket)."""

from __future__ import annotations

import time
from collections.abc import Callable

from .errors import RATE_LIMITED, ApiError


class RateLimiter:
    """``check(key, rate)``: allow ``rate`` requests/s with a burst of ``max(1, rate)``.

    Raises ApiError(RATE_LIMITED) with ``retry_after`` (seconds until one request is allowed).
    A rate of 0 means unlimited.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}  # key -> (tokens, stamp)

    def check(self, key: int, rate: float) -> None:
        if rate <= 0:
            return
        burst = max(1.0, rate)
        now = self._clock()
        tokens, stamp = self._buckets.get(key, (burst, now))
        tokens = min(burst, tokens + (now - stamp) * rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            raise ApiError(RATE_LIMITED, retry_after=(1.0 - tokens) / rate)
        self._buckets[key] = (tokens - 1.0, now)
