"""Asyncio WebSocket driver around the sans-I/O :class:`~dylive.wire.session.PushSession`.

``push_stream(push_server, info, identity, position, options)`` is an async generator of
:class:`~dylive.source.transport.Delivery` (one per received frame, hb frames included so the
collector's watchdog sees time pass). It sends the acks the session queues — one per frame, each
its own WebSocket frame, written together at most ``options.ack_delay`` seconds after the first of
them (one socket write for several frames instead of one each; 0: at once) — and a binary
heartbeat every ``options.heartbeat_interval`` (default: the session's max(10 s,
heartbeat_duration)); websockets answers the server's pings itself.

websockets does the handshake, the framing, pings, the closing handshake and the receive queue
that ``recv()`` takes from, bounded by ``connect(max_queue=PUSH_QUEUE)``: reading pauses at 4
frames waiting (ingestion behind: what is not read waits upstream) and resumes at 1.

A handshake answered ``200`` with ``handshake-status``/``handshake-msg`` headers raises
:class:`~dylive.errors.HandshakeRefused`; no frame for ``options.silence_timeout`` seconds raises
:class:`~dylive.source.reconnect.StaleConnection`; a corrupt frame raises the codec's
:class:`~dylive.errors.ProtocolError` (the collector resumes from the last good position).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.protocol import Side, State

from dylive.errors import HandshakeRefused, UpstreamError
from dylive.source import urls
from dylive.source.credentials import Identity
from dylive.source.reconnect import StaleConnection
from dylive.source.room import RoomInfo
from dylive.source.tls import tls_context
from dylive.source.transport import Delivery, Position
from dylive.wire.frames import MAX_PAYLOAD
from dylive.wire.session import PushSession

try:  # what websockets.frames masks with: its C speedup, else the Python one
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover
    from websockets.utils import apply_mask

log = logging.getLogger(__name__)

#: websockets' receive queue of a push socket, (high, low) water marks in frames: reading pauses
#: when more than ``high`` frames wait for ``recv()`` (what is not read waits in the kernel and
#: upstream) and resumes once ``low`` are left. Its default (16, 4) held ~140 KB a room of
#: catch-up frames while ingestion was paused.
PUSH_QUEUE = (3, 1)


@dataclass(frozen=True, slots=True)
class PushOptions:
    heartbeat_interval: float | None = None  # None: the session's max(10 s, heartbeat_duration)
    silence_timeout: float = 30.0  # no frame at all for this long → reconnect
    open_timeout: float = 10.0
    ping_interval: float | None = 20.0  # our own WebSocket pings (None = off)
    max_size: int = MAX_PAYLOAD
    max_queue: tuple[int, int] = PUSH_QUEUE  # websockets' receive queue: (high, low) frames
    upstream: str = ""  # the HTTP upstream: Origin/Referer of the handshake ("" = Douyin's)
    ack_delay: float = 0.5  # s an ack may wait to share a socket write with the next ones


def build_push_url(push_server: str, info: RoomInfo, identity: Identity, pos: Position) -> str:
    room_id = str(info.room_id)
    ext = pos.internal_ext or urls.default_internal_ext(room_id, info.user_unique_id)
    params = urls.push_params(
        room_id,
        info.user_unique_id,
        cursor=pos.cursor,
        internal_ext=ext,
        user_agent=identity.user_agent,
    )
    return urls.push_url(push_server, params)


async def open_socket(
    url: str,
    info: RoomInfo,
    identity: Identity,
    opts: PushOptions,
) -> ClientConnection:
    """Connect, turning Douyin's refusal (200 + handshake-status) into HandshakeRefused."""
    headers = urls.push_headers(opts.upstream, info.web_rid)
    if info.cookie:
        headers["Cookie"] = info.cookie
    try:
        ws = await connect(
            url,
            additional_headers=headers,
            user_agent_header=identity.user_agent,
            proxy=identity.proxy or None,
            open_timeout=opts.open_timeout,
            ping_interval=opts.ping_interval,
            max_size=opts.max_size,
            max_queue=opts.max_queue,
            compression=None,
            ssl=tls_context() if url.startswith("wss:") else None,
        )
    except InvalidStatus as exc:
        # websockets keeps the exception on the connection's protocol (handshake_exc), whose
        # frames its traceback holds: a cycle of ~60 objects per refused handshake (the socket,
        # the connection) for the garbage collector. Its frames are websockets' own, not needed.
        exc.with_traceback(None)
        resp = exc.response
        status = resp.headers.get("handshake-status")
        if status:
            msg = resp.headers.get("handshake-msg", "")
            raise HandshakeRefused(status, msg, room_id=info.room_id) from exc
        raise UpstreamError(
            f"push handshake answered HTTP {resp.status_code}", room_id=info.room_id
        ) from exc
    return ws


class _Silence:
    """Aborts the socket when no frame arrived for ``seconds`` (then ``fired``).

    One timer per ``seconds`` of traffic instead of one per frame: a frame only stamps ``last``;
    when the timer fires early (frames came meanwhile) it re-arms for ``last + seconds``. An
    ``asyncio.timeout`` around each ``recv()`` cost a timer cancel + schedule per frame (2,000
    frames/s at 500 rooms)."""

    def __init__(self, ws: ClientConnection, seconds: float) -> None:
        self.ws = ws
        self.seconds = seconds
        self.loop = asyncio.get_running_loop()
        self.last = self.loop.time()
        self.fired = False
        self._handle: asyncio.TimerHandle | None = self.loop.call_at(
            self.last + seconds, self._check
        )

    def _check(self) -> None:
        due = self.last + self.seconds
        if self.loop.time() < due:
            self._handle = self.loop.call_at(due, self._check)
            return
        self._handle = None
        self.fired = True
        self.ws.transport.abort()  # recv() raises ConnectionClosed: reported as StaleConnection

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


async def _heartbeat(ws: ClientConnection, session: PushSession, every: float | None) -> None:
    while True:
        await asyncio.sleep(every or session.heartbeat_interval)
        await ws.send(session.heartbeat())


def _write_now(ws: ClientConnection, frames: list[bytes]) -> bool:
    """Write binary frames at once, in one socket write, when the connection is open, not
    paused by flow control and not in the middle of a fragmented message; False: the caller
    uses ``send()``.

    An ack is a few dozen bytes sent for every frame (2,000 a second at 500 rooms);
    ``send()``'s async context manager around the same two steps (frame the message, write it
    to the transport) was a quarter of the collector's CPU there, and the write itself (a
    syscall each, a TLS record each on wss://) a sixth of what remained."""
    protocol = ws.protocol
    if (
        protocol.state is not State.OPEN
        or ws.paused
        or ws.send_in_progress is not None
        or protocol.expect_continuation_frame
        or ws.transport.is_closing()
    ):
        return False
    if protocol.side is not Side.CLIENT or protocol.extensions:
        for data in frames:
            protocol.send_binary(data)
        out = protocol.data_to_send()
    else:  # what send_binary() queues, with the masks of all the frames drawn at once
        out = protocol.data_to_send()  # open: data frames only (an end of stream follows a close)
        out.extend(client_frames(frames))
    ws.transport.write(b"".join(out))
    return True


def client_frames(frames: list[bytes]) -> list[bytes]:
    """Binary frames as a client writes them (RFC 6455 §5.2: FIN, opcode 2, masked, no
    extension): websockets' ``Frame(OP_BINARY, data).serialize(mask=True)`` byte for byte but
    the mask, with one ``os.urandom`` for every frame's masking key instead of one each (a
    ``getrandom`` call per ack was a quarter of writing it)."""
    keys = os.urandom(4 * len(frames))
    out = []
    for i, data in enumerate(frames):
        key = keys[4 * i : 4 * i + 4]
        n = len(data)
        if n < 126:
            head = bytes((0x82, 0x80 | n))
        elif n < 65536:
            head = _HEAD16.pack(0x82, 0xFE, n)
        else:
            head = _HEAD64.pack(0x82, 0xFF, n)
        out.append(head + key + apply_mask(data, key))
    return out


_HEAD16 = struct.Struct("!BBH")
_HEAD64 = struct.Struct("!BBQ")


class _Acks:
    """The acks of one connection, written together ``delay`` seconds after the first one
    (at once when ``delay`` is 0); :meth:`flush` writes what is pending (at the end too)."""

    def __init__(self, ws: ClientConnection, delay: float) -> None:
        self.ws = ws
        self.delay = delay
        self.loop = asyncio.get_running_loop()  # once: each call is a getpid() on 3.11
        self.pending: list[bytes] = []
        self._handle: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task[None]] = set()

    def add(self, frames: list[bytes]) -> None:
        if not frames:
            return
        self.pending.extend(frames)
        if self.delay <= 0:
            self.flush()
        elif self._handle is None:
            self._handle = self.loop.call_later(self.delay, self.flush)

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        out, self.pending = self.pending, []
        if not out or _write_now(self.ws, out):
            return
        task = self.loop.create_task(_send_each(self.ws, out))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def stop(self) -> None:
        """Write what is pending (the socket may be closing: then it is dropped)."""
        with contextlib.suppress(Exception):
            self.flush()


async def _send_each(ws: ClientConnection, frames: list[bytes]) -> None:
    """Acks the connection could not take at once (paused, mid-message), in order."""
    try:
        for data in frames:
            await ws.send(data)
    except ConnectionClosed:
        log.debug("push: socket closed while acking")


async def push_stream(
    push_server: str,
    info: RoomInfo,
    identity: Identity,
    position: Position,
    options: PushOptions | None = None,
) -> AsyncIterator[Delivery]:
    """Deliveries from one push connection until it closes or fails (see module docstring)."""
    opts = options or PushOptions()
    url = build_push_url(push_server, info, identity, position)
    ws = await open_socket(url, info, identity, opts)
    session = PushSession(cursor=position.cursor, internal_ext=position.internal_ext)
    hb = asyncio.create_task(_heartbeat(ws, session, opts.heartbeat_interval))
    silence = _Silence(ws, opts.silence_timeout)
    acks = _Acks(ws, opts.ack_delay)
    pos = Position()
    try:
        while True:
            try:
                data = await ws.recv()  # frames read before a loss come first, then the loss
            except ConnectionClosed:
                if silence.fired:
                    raise StaleConnection(
                        f"push socket silent for {opts.silence_timeout:.1f} s",
                        room_id=info.room_id,
                    ) from None
                raise
            silence.last = silence.loop.time()
            if isinstance(data, str):
                continue
            messages = session.receive_frame(data)
            acks.add(session.data_to_send())
            if session.cursor != pos.cursor or session.internal_ext != pos.internal_ext:
                pos = Position(session.cursor, session.internal_ext)
            closed = session.closed_by_server
            yield Delivery(tuple(messages), pos, "push", session.now, closed)
            if closed:
                return
    finally:
        acks.stop()
        silence.stop()
        hb.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await hb
        # read again, so that a socket paused by its queue gets the server's close frame (what
        # else comes meanwhile is dropped with the connection)
        with contextlib.suppress(Exception):
            ws.transport.resume_reading()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await ws.close()
        # a socket that still does not complete the closing handshake: drop it (a no-op once
        # it is closed)
        ws.transport.abort()
