"""Token-bucket rate limiting per key (a token id, or a client address for requests without a
valid token); in memory, a restart refills every bucket."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

from .errors import RATE_LIMITED, ApiError


class RateLimiter:
    """``check(key, rate)``: allow ``rate`` requests/s with a burst of ``max(1, rate)``.

    Raises ApiError(RATE_LIMITED) with ``retry_after`` (seconds until one request is allowed).
    A rate of 0 means unlimited.
    """

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key -> (tokens, stamp)

    def check(self, key: Hashable, rate: float) -> None:
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
        if len(self._buckets) > self._max_keys:  # many addresses: forget the oldest half
            stale = sorted(self._buckets, key=lambda k: self._buckets[k][1])
            for old in stale[: len(stale) // 2]:
                del self._buckets[old]
