"""Pacing of upstream requests so that dylive itself does not trip Douyin's risk control.

A :class:`TokenBucket` refills ``rate`` tokens per second up to ``burst``; :meth:`take` waits
for a token and then a random jitter (a fraction of one interval), so requests of many rooms
never line up. :class:`Pacer` holds one bucket per identity and one per exit (proxy, or the
direct connection): a request waits for both. Its httpx request hook paces every HTTP request of
a client; room starts (the push handshake) call :meth:`Pacer.take` before connecting, which
staggers them. Every paced request is counted per identity (``requests``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` stored; ``rate <= 0`` never waits."""

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        *,
        jitter: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self.jitter = jitter
        self._clock = clock
        self._rng = rng or random.Random()
        self._tokens = self.burst
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def delay(self) -> float:
        """Seconds until a token is available (0 = now); takes nothing."""
        if self.rate <= 0:
            return 0.0
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    async def take(self) -> float:
        """Wait for one token (plus jitter); the seconds waited."""
        if self.rate <= 0:
            return 0.0
        async with self._lock:  # waiters are served in order
            wait = self.delay()
            if wait > 0:
                await asyncio.sleep(wait)
                self._refill()
            self._tokens -= 1
            extra = self._rng.random() * self.jitter / self.rate
        if extra:
            await asyncio.sleep(extra)
        return wait + extra


@dataclass(slots=True)
class Pacer:
    """Buckets per identity and per exit; counts the requests each identity sent."""

    rate: float = 1.0  # requests/s per identity
    burst: float = 5.0
    exit_rate: float = 2.0  # requests/s per exit (proxy or direct)
    exit_burst: float = 10.0
    jitter: float = 0.25
    requests: dict[str, int] = field(default_factory=dict)
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def _bucket(self, key: str, rate: float, burst: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(rate, burst, jitter=self.jitter)
        return bucket

    async def take(self, identity: str, exit_: str) -> float:
        """Wait for the identity's bucket and its exit's bucket; count the request."""
        waited = await self._bucket("id:" + identity, self.rate, self.burst).take()
        waited += await self._bucket(
            "exit:" + (exit_ or "direct"), self.exit_rate, self.exit_burst
        ).take()
        self.requests[identity] = self.requests.get(identity, 0) + 1
        return waited

    def hook(self, identity: str, exit_: str) -> Callable[[httpx.Request], Awaitable[None]]:
        """An httpx ``request`` event hook that paces every request of a client."""

        async def pace(request: httpx.Request) -> None:
            await self.take(identity, exit_)

        return pace
