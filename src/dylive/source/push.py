"""Asyncio WebSocket driver around the sans-I/O :class:`~dylive.wire.session.PushSession`.

``push_stream(push_server, info, identity, position, options)`` is an async generator of
:class:`~dylive.source.transport.Delivery` (one per received frame, hb frames included so the
collector's watchdog sees time pass). It sends the acks the session queues — one per frame, each
its own WebSocket frame, written together at most ``options.ack_delay`` seconds after the first of
them (one socket write for several frames instead of one each; 0: at once) — and a binary
heartbeat every ``options.heartbeat_interval`` (default: the session's max(10 s,
heartbeat_duration)); websockets answers the server's pings itself.

websockets does the handshake, the framing, pings and the closing handshake, but its ``recv()``
(a queue and a future per message) is bypassed: :class:`PushConnection` hands each binary
message over in the socket's read callback, the generator is woken once per socket read and
reading pauses while ``_HIGH`` frames wait for it (ingestion behind: what is not read waits
upstream).

A handshake answered ``200`` with ``handshake-status``/``handshake-msg`` headers raises
:class:`~dylive.errors.HandshakeRefused`; no frame for ``options.silence_timeout`` seconds raises
:class:`~dylive.source.reconnect.StaleConnection`; a corrupt frame raises the codec's
:class:`~dylive.errors.ProtocolError` (the collector resumes from the last good position).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import BINARY, CONT, TEXT, CloseCode, Frame
from websockets.protocol import Event, State

from dylive.errors import HandshakeRefused, UpstreamError
from dylive.source import urls
from dylive.source.credentials import Identity
from dylive.source.reconnect import StaleConnection
from dylive.source.room import RoomInfo
from dylive.source.tls import tls_context
from dylive.source.transport import Delivery, Position
from dylive.wire.frames import MAX_PAYLOAD
from dylive.wire.session import PushSession

log = logging.getLogger(__name__)

#: Fragments of one message before the connection is failed (websockets' recv() default).
MAX_FRAGMENTS = 4096


@dataclass(frozen=True, slots=True)
class PushOptions:
    heartbeat_interval: float | None = None  # None: the session's max(10 s, heartbeat_duration)
    silence_timeout: float = 30.0  # no frame at all for this long → reconnect
    open_timeout: float = 10.0
    ping_interval: float | None = 20.0  # our own WebSocket pings (None = off)
    max_size: int = MAX_PAYLOAD
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
    create_connection: type[ClientConnection] = ClientConnection,
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
            compression=None,
            ssl=tls_context() if url.startswith("wss:") else None,
            create_connection=create_connection,
        )
    except InvalidStatus as exc:
        resp = exc.response
        status = resp.headers.get("handshake-status")
        if status:
            msg = resp.headers.get("handshake-msg", "")
            raise HandshakeRefused(status, msg, room_id=info.room_id) from exc
        raise UpstreamError(
            f"push handshake answered HTTP {resp.status_code}", room_id=info.room_id
        ) from exc
    return ws


class PushConnection(ClientConnection):
    """websockets' client connection whose messages go to a callback, not to ``recv()``.

    websockets still does the handshake (proxy, TLS, refusals), the framing, pings, pongs and
    the closing handshake; only the data messages skip its Assembler queue and futures:
    :meth:`data_received` hands each whole binary message to ``on_binary`` synchronously
    (text messages to ``on_text``), in wire order, frames of one socket read in one go. Messages
    that arrive before :meth:`attach` (in the handshake's read) are kept and handed over then.
    ``on_lost`` is called once the connection is lost (``connection_lost_waiter`` is done)."""

    def __init__(self, protocol: ClientProtocol, **kwargs: Any) -> None:
        super().__init__(protocol, **kwargs)
        self.on_binary: Callable[[bytes], None] | None = None
        self.on_text: Callable[[], None] = _nothing
        self.on_lost: Callable[[], None] = _nothing
        self._early: list[bytes | None] = []  # None: a text message
        self._fragments: list[Frame] = []
        self._failed = False  # too many fragments: the rest is dropped

    def attach(
        self,
        on_binary: Callable[[bytes], None],
        on_text: Callable[[], None],
        on_lost: Callable[[], None],
    ) -> None:
        self.on_binary, self.on_text, self.on_lost = on_binary, on_text, on_lost
        early, self._early = self._early, []
        for data in early:
            if data is None:
                on_text()
            else:
                on_binary(data)
        if self.connection_lost_waiter.done():
            on_lost()

    def process_event(self, event: Event) -> None:
        if self.response is None or not isinstance(event, Frame):
            super().process_event(event)  # the handshake response
            return
        opcode = event.opcode
        if opcode is not BINARY and opcode is not TEXT and opcode is not CONT:
            super().process_event(event)  # pong (pings and close: the protocol answers them)
            return
        if self._failed:
            return
        if not event.fin or self._fragments:  # a fragmented message (Douyin sends none)
            self._fragments.append(event)
            if len(self._fragments) > MAX_FRAGMENTS:  # what websockets' recv() refuses too
                self._fragments, self._failed = [], True
                self.protocol.fail(CloseCode.MESSAGE_TOO_BIG, "too many fragments")
                self.send_data()
                return
            if not event.fin:
                return
            event, frames, self._fragments = self._fragments[0], self._fragments, []
            data = b"".join(f.data for f in frames)
        else:
            data = event.data if type(event.data) is bytes else bytes(event.data)
        if event.opcode is TEXT:
            if self.on_binary is None:
                self._early.append(None)
            else:
                self.on_text()
        elif self.on_binary is None:
            self._early.append(data)
        else:
            self.on_binary(data)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.on_lost()


def _nothing() -> None:
    pass


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
    if (
        ws.protocol.state is not State.OPEN
        or ws.paused
        or ws.send_in_progress is not None
        or ws.transport.is_closing()
    ):
        return False
    for data in frames:
        ws.protocol.send_binary(data)
    # open: the protocol queued data frames only (an end of stream comes after a close)
    ws.transport.write(b"".join(ws.protocol.data_to_send()))
    return True


class _Acks:
    """The acks of one connection, written together ``delay`` seconds after the first one
    (at once when ``delay`` is 0); :meth:`flush` writes what is pending (at the end too)."""

    def __init__(self, ws: ClientConnection, delay: float) -> None:
        self.ws = ws
        self.delay = delay
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
            self._handle = asyncio.get_running_loop().call_later(self.delay, self.flush)

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        out, self.pending = self.pending, []
        if not out or _write_now(self.ws, out):
            return
        task = asyncio.get_running_loop().create_task(_send_each(self.ws, out))
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


#: The frames a connection keeps for its consumer before it stops reading the socket (what is
#: not read waits in the kernel and upstream); reading resumes once it is down to ``_LOW``.
#: websockets' own queue held 16 (its default ``max_queue``): ~140 KB a room of catch-up
#: frames while ingestion is paused.
_HIGH = 4
_LOW = 1


class _Feed:
    """One connection's binary frames, handed over by :class:`PushConnection` as they are
    read; the consumer (``push_stream``) is woken once per socket read, however many frames it
    carried. When ``_HIGH`` frames wait, reading pauses until the consumer is down to ``_LOW``."""

    def __init__(self, ws: PushConnection, silence: _Silence) -> None:
        self.ws = ws
        self.silence = silence
        self.frames: deque[bytes] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.paused = False
        self.done = False  # the consumer left: frames read now are dropped

    def on_binary(self, data: bytes) -> None:
        self.silence.last = self.silence.loop.time()
        if self.done:
            return
        self.frames.append(data)
        if len(self.frames) >= _HIGH and not self.paused:
            self.paused = True
            self.ws.transport.pause_reading()
        self.wake()

    def on_text(self) -> None:
        self.silence.last = self.silence.loop.time()

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        """Until a frame is read or the connection is lost."""
        self.waiter = self.silence.loop.create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    def take(self) -> bytes:
        data = self.frames.popleft()
        if self.paused and len(self.frames) <= _LOW:
            self.paused = False
            self.ws.transport.resume_reading()
        return data

    def release(self) -> None:
        """Read again (the closing handshake needs the server's close frame); what is read
        from now on is dropped."""
        self.done = True
        self.frames.clear()
        if self.paused:
            self.paused = False
            with contextlib.suppress(Exception):
                self.ws.transport.resume_reading()


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
    ws = await open_socket(url, info, identity, opts, PushConnection)
    assert isinstance(ws, PushConnection)
    session = PushSession(cursor=position.cursor, internal_ext=position.internal_ext)
    hb = asyncio.create_task(_heartbeat(ws, session, opts.heartbeat_interval))
    silence = _Silence(ws, opts.silence_timeout)
    acks = _Acks(ws, opts.ack_delay)
    feed = _Feed(ws, silence)
    ws.attach(feed.on_binary, feed.on_text, feed.wake)
    lost = ws.connection_lost_waiter
    frames = feed.frames
    try:
        while True:
            if not frames:
                if lost.done():  # what was read before is handed out first
                    if silence.fired:
                        raise StaleConnection(
                            f"push socket silent for {opts.silence_timeout:.1f} s",
                            room_id=info.room_id,
                        )
                    raise ws.close_exc
                await feed.wait()
                continue
            messages = session.receive_frame(feed.take())
            acks.add(session.data_to_send())
            pos = Position(session.cursor, session.internal_ext)
            yield Delivery(
                tuple(messages), pos, "push", now=session.now, closed=session.closed_by_server
            )
            if session.closed_by_server:
                return
    finally:
        feed.release()
        acks.stop()
        silence.stop()
        hb.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await hb
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await ws.close()
        # a socket that still does not complete the closing handshake: drop it (a no-op once
        # it is closed)
        ws.transport.abort()
