"""Which transport the next session of a room uses, and which push server it dials.

A room starts on push; refused handshakes or repeated socket failures switch it to im/fetch
polling, and push is tried again ``push_retry_after`` seconds later. A silent socket (accepted,
acked, carrying no business message while the room is visibly live: :mod:`dylive.source.silence`)
falls back at once, and push is tried again only ``silent_retry_after`` seconds later: Douyin
silences the identity (a cookie-less one), not the host, so neither retrying soon nor another
push server helps. A push server that does not
answer is skipped for the next one im/fetch named. Bookkeeping without I/O (the clock is passed
in by the caller; :meth:`TransportPlan.open` only builds the lazy stream of the chosen transport),
so the rules are testable alone; :class:`~dylive.source.collector.Room` owns one.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

import httpx

from dylive.errors import HandshakeRefused, SignatureRefused
from dylive.source import urls
from dylive.source.credentials import Identity
from dylive.source.options import CollectorOptions
from dylive.source.poll import poll_stream
from dylive.source.push import PushOptions, push_stream
from dylive.source.reconnect import StaleConnection
from dylive.source.room import RoomInfo
from dylive.source.silence import SilentSocket
from dylive.source.transport import Delivery, Position

log = logging.getLogger(__name__)

__all__ = ["TransportPlan", "failure_flag"]


class TransportPlan:
    """The transport choice and the push servers of one room connection."""

    def __init__(self, options: CollectorOptions, push_server: str = "") -> None:
        self.options = options
        self.mode = "poll" if options.transport == "poll" else "push"
        self.push_failures = 0
        self.push_retry_at = 0.0
        self.push_server = push_server
        self.push_servers: tuple[str, ...] = ()
        self.push_index = 0

    def choose(self, now: float) -> str:
        """The transport of the next session."""
        if self.options.transport in ("push", "poll"):
            return self.options.transport
        if self.mode == "poll" and now >= self.push_retry_at:
            self.mode = "push"
        return self.mode

    def retry_push_due(self, transport: str, now: float) -> bool:
        """True while polling in ``auto`` mode once push is due to be tried again."""
        auto = self.options.transport == "auto"
        return transport == "poll" and auto and now >= self.push_retry_at

    def base(self, upstream: str) -> str:
        """The push server to dial: the override, else the ones im/fetch named, else the
        upstream's own (Douyin's default host, or the simulator's address)."""
        if self.options.push_url:
            return self.options.push_url
        if self.push_servers:
            return self.push_servers[self.push_index % len(self.push_servers)]
        if self.push_server:
            return self.push_server
        if "douyin.com" in upstream:
            return urls.DEFAULT_PUSH_BASE
        return upstream.replace("https://", "wss://").replace("http://", "ws://")

    def open(
        self,
        transport: str,
        *,
        client: httpx.AsyncClient,
        upstream: str,
        info: RoomInfo,
        identity: Identity,
        position: Position,
        on_refusal: Callable[[str], None],
    ) -> AsyncIterator[Delivery]:
        """The deliveries of one session on ``transport``, resuming from ``position``."""
        o = self.options
        if transport == "push":
            opts = PushOptions(
                heartbeat_interval=o.heartbeat_interval,
                silence_timeout=o.silence_timeout,
                open_timeout=o.open_timeout,
                upstream=upstream,
                ack_delay=o.ack_delay,
            )
            return push_stream(self.base(upstream), info, identity, position, opts)
        return poll_stream(
            client,
            upstream,
            info,
            identity,
            position,
            signing=o.signing,
            min_interval=o.poll_min_interval,
            max_interval=o.poll_max_interval,
            on_refusal=on_refusal,
        )

    def learn(self, push_server: str, push_servers: tuple[str, ...]) -> None:
        """What an im/fetch answer said about the push servers."""
        self.push_server = push_server or self.push_server
        if push_servers and push_servers != self.push_servers:
            self.push_servers, self.push_index = push_servers, 0

    def forget(self) -> None:
        """A new broadcast: its push servers are learnt again."""
        self.push_server = ""
        self.push_servers, self.push_index = (), 0

    def delivered(self) -> None:
        """A delivery carried messages: the transport works."""
        self.push_failures = 0

    def poll_refused(self) -> None:
        """im/fetch is refused: push is the fallback (no bouncing between two refusals)."""
        if self.options.transport == "auto":
            self.mode = "push"

    def push_failed(
        self, *, refused: bool, polling_refused: bool, now: float, silent: bool = False
    ) -> bool:
        """A push session failed (``silent``: a silent socket); True when this switched the
        room to polling."""
        self.push_failures += 1
        if not refused and not silent and len(self.push_servers) > 1:
            self.push_index += 1  # a host that does not answer: try the next one named
        many = self.push_failures >= self.options.push_failures_before_fallback
        if polling_refused:
            return False
        if self.options.transport == "auto" and (refused or silent or many):
            self.mode = "poll"
            self.push_failures = 0
            o = self.options
            self.push_retry_at = now + (o.silent_retry_after if silent else o.push_retry_after)
            return True
        return False


def failure_flag(exc: Exception, transport: str) -> str:
    """The degradation flag a failure raises ("" for none): ``refused`` (push handshake
    refused), ``silent_socket`` (push carries nothing while the room is visibly live),
    ``heartbeat_only`` (the fake-alive watchdog fired), ``polling_refused`` (Douyin answers
    repeated guest polls with empty 200s; the room then stops falling back to polling)."""
    if isinstance(exc, HandshakeRefused):
        return "refused"
    if isinstance(exc, SilentSocket):
        return "silent_socket"
    if isinstance(exc, StaleConnection) and "fake-alive" in str(exc):
        return "heartbeat_only"
    if transport == "poll" and isinstance(exc, SignatureRefused):
        return "polling_refused"
    return ""
