"""Reconnect policy: backoff with jitter (injectable) and failure classification.

- :class:`Backoff` — exponential delays with full jitter; ``next_delay()``, ``reset()``.
  Any object with those two methods can be injected into :class:`dylive.source.collector.Room`.
- :func:`classify` — exception → :class:`Failure` (``RETRY``, ``FALLBACK``, ``RERESOLVE``,
  ``FATAL``, ``ENDED``).
"""

from __future__ import annotations

import asyncio
import enum
import random
from dataclasses import dataclass, field
from typing import Protocol

import httpx
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from dylive.errors import (
    HandshakeRefused,
    ProtocolError,
    RoomNotFound,
    RoomNotLive,
    SignatureRefused,
    UpstreamError,
)


class BackoffPolicy(Protocol):
    def next_delay(self) -> float: ...

    def reset(self) -> None: ...


@dataclass(slots=True)
class Backoff:
    """Delay n = min(cap, initial * factor**n), then jittered into [delay*(1-jitter), delay]."""

    initial: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 0.5
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        base = min(self.cap, self.initial * self.factor**self.attempt)
        self.attempt += 1
        return base * (1.0 - self.jitter * self.rng.random())

    def reset(self) -> None:
        self.attempt = 0


class Failure(enum.Enum):
    RETRY = "retry"  # reconnect the same transport from the last position
    FALLBACK = "fallback"  # this transport is refused: use the other one
    RERESOLVE = "reresolve"  # resolve the room again (new broadcast, new identity)
    ENDED = "ended"  # the broadcast is over
    FATAL = "fatal"  # give up: the caller must see this error


class StaleConnection(UpstreamError):
    """The watchdog found a silent or fake-alive connection."""


def classify(exc: BaseException) -> Failure:
    """What to do after ``exc`` ended a transport run."""
    if isinstance(exc, RoomNotLive):
        return Failure.ENDED
    if isinstance(exc, RoomNotFound):
        return Failure.FATAL
    if isinstance(exc, HandshakeRefused):
        if "DEVICE_BLOCKED" in exc.handshake_msg.upper():
            return Failure.RERESOLVE
        return Failure.FALLBACK
    if isinstance(exc, SignatureRefused):
        return Failure.FALLBACK
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        return Failure.RETRY if code >= 500 or code == 429 else Failure.FATAL
    retryable = (
        ProtocolError,
        UpstreamError,
        ConnectionClosed,
        InvalidHandshake,
        httpx.TransportError,
        OSError,
        asyncio.TimeoutError,
    )
    if isinstance(exc, retryable):
        return Failure.RETRY
    return Failure.FATAL
